import Crypto
import Foundation
import _CryptoExtras

/// Encrypts a media file as WhatsApp does, a piece at a time: AES-256-CBC with PKCS#7 padding
/// under the expanded cipher key and iv, then the first 10 bytes of HMAC-SHA256 (MAC key) over
/// iv and ciphertext appended. The upload body is everything ``update(_:)`` and ``finish()``
/// return, in order.
///
/// Guarantees: memory use is bounded by the largest piece passed in (never the whole file);
/// the output is identical whatever the piece sizes.
public struct MediaEncryptor: Sendable {
    static let macLength = 10
    static let blockSize = 16

    private let cipherKey: SymmetricKey
    private var chainIV: AES._CBC.IV
    private var partialBlock: [UInt8] = []
    private var mac: HMAC<SHA256>
    private var plainHash = SHA256()
    private var encryptedHash = SHA256()
    private var plainLength = 0

    public init(mediaKey: some DataProtocol, kind: MediaKind) throws(MediaCryptoError) {
        let keys = try MediaKeys(mediaKey: mediaKey, kind: kind)
        cipherKey = keys.cipherKey
        chainIV = try Self.iv(keys.iv)
        mac = HMAC<SHA256>(key: keys.macKey)
        mac.update(data: keys.iv)
    }

    /// Takes the next piece of the plain file; returns the ciphertext ready so far.
    public mutating func update(_ plain: some DataProtocol) throws(MediaCryptoError) -> [UInt8] {
        plainHash.update(data: plain)
        plainLength += plain.count
        partialBlock.append(contentsOf: plain)
        let whole = partialBlock.count - partialBlock.count % Self.blockSize
        guard whole > 0 else { return [] }
        let ciphertext = try encrypt(partialBlock[0..<whole])
        partialBlock.removeFirst(whole)
        return ciphertext
    }

    /// Pads and encrypts what is left and appends the MAC; returns those last bytes and the
    /// digest the media message announces.
    public mutating func finish() throws(MediaCryptoError) -> (tail: [UInt8], digest: MediaDigest) {
        let padLength = Self.blockSize - partialBlock.count % Self.blockSize
        partialBlock.append(contentsOf: repeatElement(UInt8(padLength), count: padLength))
        var tail = try encrypt(partialBlock[...])
        partialBlock = []
        let tag = Array(mac.finalize().prefix(Self.macLength))
        encryptedHash.update(data: tag)
        tail += tag
        let digest = MediaDigest(
            fileSHA256: Array(plainHash.finalize()), fileEncSHA256: Array(encryptedHash.finalize()), fileLength: plainLength
        )
        return (tail, digest)
    }

    private mutating func encrypt(_ blocks: ArraySlice<UInt8>) throws(MediaCryptoError) -> [UInt8] {
        let ciphertext: Data
        do {
            ciphertext = try AES._CBC.encrypt(blocks, using: cipherKey, iv: chainIV, noPadding: true)
        } catch {
            throw .cipherFailure
        }
        // CBC chains on: the next piece's iv is this piece's last ciphertext block.
        chainIV = try Self.iv(ciphertext.suffix(Self.blockSize))
        mac.update(data: ciphertext)
        encryptedHash.update(data: ciphertext)
        return Array(ciphertext)
    }

    static func iv(_ bytes: some Collection<UInt8>) throws(MediaCryptoError) -> AES._CBC.IV {
        do {
            return try AES._CBC.IV(ivBytes: bytes)
        } catch {
            throw .cipherFailure
        }
    }
}
