import Crypto
import Foundation
import _CryptoExtras

/// Verifies and decrypts a WhatsApp media file (ciphertext followed by a 10-byte MAC), a piece
/// at a time.
///
/// Guarantees: memory use is bounded by the largest piece passed in; ``finish(expecting:)``
/// throws unless the MAC over iv and ciphertext, the padding, and (when a digest is given) the
/// SHA-256 of the encrypted and of the plain file and the length all match. Plaintext returned
/// by ``update(_:)`` is NOT authenticated until `finish` returns: callers write it somewhere
/// provisional (a temporary file) and keep it only once `finish` succeeded.
public struct MediaDecryptor: Sendable {
    private let cipherKey: SymmetricKey
    private var chainIV: AES._CBC.IV
    /// Bytes not yet decrypted: always holds back the MAC and the last block (which carries the padding).
    private var pending: [UInt8] = []
    private var mac: HMAC<SHA256>
    private var plainHash = SHA256()
    private var encryptedHash = SHA256()
    private var plainLength = 0

    public init(mediaKey: some DataProtocol, kind: MediaKind) throws(MediaCryptoError) {
        let keys = try MediaKeys(mediaKey: mediaKey, kind: kind)
        cipherKey = keys.cipherKey
        chainIV = try MediaEncryptor.iv(keys.iv)
        mac = HMAC<SHA256>(key: keys.macKey)
        mac.update(data: keys.iv)
    }

    /// Takes the next piece of the encrypted file; returns the (provisional) plaintext ready so far.
    public mutating func update(_ encrypted: some DataProtocol) throws(MediaCryptoError) -> [UInt8] {
        encryptedHash.update(data: encrypted)
        pending.append(contentsOf: encrypted)
        let available = pending.count - MediaEncryptor.macLength - MediaEncryptor.blockSize
        let whole = available - available % MediaEncryptor.blockSize
        guard whole > 0 else { return [] }
        let plain = try decrypt(pending[0..<whole])
        pending.removeFirst(whole)
        return plain
    }

    /// Checks the MAC, the padding and the digest; returns the last plaintext bytes.
    public mutating func finish(expecting digest: MediaDigest? = nil) throws(MediaCryptoError) -> [UInt8] {
        let ciphertextLength = pending.count - MediaEncryptor.macLength
        guard ciphertextLength >= MediaEncryptor.blockSize, ciphertextLength % MediaEncryptor.blockSize == 0 else { throw .truncated }
        let lastBlocks = pending[0..<ciphertextLength]
        let received = pending[ciphertextLength...]
        var probe = mac
        probe.update(data: lastBlocks)
        let expected = Array(probe.finalize().prefix(MediaEncryptor.macLength))
        guard Self.constantTimeEquals(expected, received) else { throw .macMismatch }
        if let digest, Array(encryptedHash.finalize()) != digest.fileEncSHA256 { throw .encryptedHashMismatch }
        var plain = try decrypt(lastBlocks, authenticated: true)
        guard let padLength = plain.last.map(Int.init), (1...MediaEncryptor.blockSize).contains(padLength),
            plain.suffix(padLength).allSatisfy({ $0 == UInt8(padLength) })
        else { throw .badPadding }
        plain.removeLast(padLength)
        plainHash.update(data: plain)
        plainLength += plain.count
        pending = []
        if let digest {
            guard plainLength == digest.fileLength else { throw .lengthMismatch(expected: digest.fileLength, actual: plainLength) }
            guard Array(plainHash.finalize()) == digest.fileSHA256 else { throw .plaintextHashMismatch }
        }
        return plain
    }

    /// SHA-256 of the plain file, once ``finish(expecting:)`` returned.
    public var fileSHA256: [UInt8] { Array(plainHash.finalize()) }

    private mutating func decrypt(_ blocks: ArraySlice<UInt8>, authenticated: Bool = false) throws(MediaCryptoError) -> [UInt8] {
        let plain: Data
        do {
            plain = try AES._CBC.decrypt(blocks, using: cipherKey, iv: chainIV, noPadding: true)
        } catch {
            throw .cipherFailure
        }
        chainIV = try MediaEncryptor.iv(blocks.suffix(MediaEncryptor.blockSize))
        // The last blocks are hashed once their padding is off (in finish); the MAC saw them there too.
        if !authenticated {
            mac.update(data: blocks)
            plainHash.update(data: plain)
            plainLength += plain.count
        }
        return Array(plain)
    }

    private static func constantTimeEquals(_ a: [UInt8], _ b: ArraySlice<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
