import Crypto
import Foundation

/// The four keys a 32-byte media key expands to: HKDF-SHA256 with no salt and the kind's info
/// string, 112 bytes split as iv (16), cipher key (32), MAC key (32) and ref key (32).
public struct MediaKeys: Sendable {
    public static let mediaKeyLength = 32
    static let expandedLength = 112

    public let iv: [UInt8]
    public let cipherKey: SymmetricKey
    public let macKey: SymmetricKey
    /// Part of the expansion; WhatsApp's clients do not use it for files.
    public let refKey: [UInt8]

    public init(mediaKey: some DataProtocol, kind: MediaKind) throws(MediaCryptoError) {
        guard mediaKey.count == Self.mediaKeyLength else { throw .invalidMediaKey(length: mediaKey.count) }
        let expanded = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Array(mediaKey)), salt: [UInt8](), info: Array(kind.hkdfInfo.utf8),
            outputByteCount: Self.expandedLength
        ).withUnsafeBytes { Array($0) }
        iv = Array(expanded[0..<16])
        cipherKey = SymmetricKey(data: expanded[16..<48])
        macKey = SymmetricKey(data: expanded[48..<80])
        refKey = Array(expanded[80..<112])
    }

    /// 32 random bytes, a fresh key for each file sent.
    public static func randomMediaKey() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<mediaKeyLength).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}
