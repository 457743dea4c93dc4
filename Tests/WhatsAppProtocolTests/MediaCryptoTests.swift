import Crypto
import Foundation
import TestSupport
import Testing

@testable import WhatsAppProtocol

/// WhatsApp media encryption against an independent implementation (Tests/peers/media_peer.py,
/// `cryptography`): each kind, both directions, byte for byte, in pieces of awkward sizes.
@Suite("Media encryption")
struct MediaCryptoTests {
    /// Sizes around the block and MAC boundaries, and one over several file chunks.
    static let sizes = [0, 1, 15, 16, 17, 31, 32, 1000, 2 * MediaFileCrypto.chunkSize + 7]

    private static func folder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("media-crypto-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    private static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    private static func peer(_ op: String, _ kind: MediaKind, key: [UInt8], _ source: URL, _ destination: URL) async throws -> [String: Any] {
        let output = try await PythonPeer.check("media_peer.py", arguments: [op, kind.rawValue, Data(key).hex, source.path, destination.path])
        return try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])
    }

    @Test("the key expansion matches whatsmeow's split of HKDF-SHA256 to 112 bytes", arguments: MediaKind.allCases)
    func keyExpansion(kind: MediaKind) throws {
        let mediaKey = Self.randomBytes(32)
        let keys = try MediaKeys(mediaKey: mediaKey, kind: kind)
        let expanded = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: mediaKey), info: Data(kind.hkdfInfo.utf8), outputByteCount: 112
        ).withUnsafeBytes { Array($0) }
        #expect(keys.iv == Array(expanded[0..<16]))
        #expect(keys.cipherKey.withUnsafeBytes { Array($0) } == Array(expanded[16..<48]))
        #expect(keys.macKey.withUnsafeBytes { Array($0) } == Array(expanded[48..<80]))
        #expect(keys.refKey == Array(expanded[80..<112]))
        #expect(throws: MediaCryptoError.invalidMediaKey(length: 31)) { try MediaKeys(mediaKey: mediaKey.dropLast(), kind: kind) }
    }

    @Test(
        "Swift encrypts exactly what the peer encrypts, and each decrypts the other's file",
        arguments: [
            MediaKind.image, .video, .audio, .document, .sticker, .history,
        ])
    func bothDirections(kind: MediaKind) async throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for size in Self.sizes {
            let plain = Self.randomBytes(size)
            let key = MediaKeys.randomMediaKey()
            let plainURL = folder.appendingPathComponent("plain-\(size)")
            try Data(plain).write(to: plainURL)

            let swiftEncrypted = folder.appendingPathComponent("swift-\(size).enc")
            let digest = try MediaFileCrypto.encrypt(plainURL, to: swiftEncrypted, mediaKey: key, kind: kind)
            let peerEncrypted = folder.appendingPathComponent("peer-\(size).enc")
            let summary = try await Self.peer("encrypt", kind, key: key, plainURL, peerEncrypted)
            let swiftBytes = try Data(contentsOf: swiftEncrypted)
            #expect(swiftBytes == (try Data(contentsOf: peerEncrypted)), "size \(size)")
            #expect(digest.fileLength == size)
            #expect(Data(digest.fileSHA256).hex == summary["file_sha256"] as? String)
            #expect(Data(digest.fileEncSHA256).hex == summary["file_enc_sha256"] as? String)
            #expect(swiftBytes.count == (size / 16 + 1) * 16 + 10)

            // The peer's file, decrypted by Swift, with the digest checked.
            let swiftDecrypted = folder.appendingPathComponent("swift-\(size).dec")
            try MediaFileCrypto.decrypt(peerEncrypted, to: swiftDecrypted, mediaKey: key, kind: kind, expecting: digest)
            #expect(try Data(contentsOf: swiftDecrypted) == Data(plain), "size \(size)")
            // Swift's file, decrypted by the peer.
            let peerDecrypted = folder.appendingPathComponent("peer-\(size).dec")
            _ = try await Self.peer("decrypt", kind, key: key, swiftEncrypted, peerDecrypted)
            #expect(try Data(contentsOf: peerDecrypted) == Data(plain), "size \(size)")
        }
    }

    @Test("pieces of any size give the same bytes as one piece")
    func arbitraryPieces() throws {
        let plain = Self.randomBytes(5000)
        let key = MediaKeys.randomMediaKey()
        var whole = try MediaEncryptor(mediaKey: key, kind: .document)
        var expected = try whole.update(plain)
        let (tail, digest) = try whole.finish()
        expected += tail

        var pieces = try MediaEncryptor(mediaKey: key, kind: .document)
        var encrypted: [UInt8] = []
        var offset = 0
        for size in [0, 1, 3, 16, 17, 100, 1, 4000] where offset < plain.count {
            encrypted += try pieces.update(plain[offset..<min(plain.count, offset + size)])
            offset += size
        }
        encrypted += try pieces.update(plain[min(offset, plain.count)...])
        encrypted += try pieces.finish().tail
        #expect(encrypted == expected)

        var decryptor = try MediaDecryptor(mediaKey: key, kind: .document)
        var decrypted: [UInt8] = []
        for start in stride(from: 0, to: encrypted.count, by: 7) {
            decrypted += try decryptor.update(encrypted[start..<min(encrypted.count, start + 7)])
        }
        decrypted += try decryptor.finish(expecting: digest)
        #expect(decrypted == plain)
    }

    @Test("a tampered file, a wrong key or another kind's key is refused with a MAC error; a wrong digest is named")
    func refusals() throws {
        let plain = Self.randomBytes(3000)
        let key = MediaKeys.randomMediaKey()
        var encryptor = try MediaEncryptor(mediaKey: key, kind: .image)
        var encrypted = try encryptor.update(plain)
        let (tail, digest) = try encryptor.finish()
        encrypted += tail

        func decrypt(_ bytes: [UInt8], key: [UInt8] = key, kind: MediaKind = .image, digest: MediaDigest? = nil) throws(MediaCryptoError) {
            var decryptor = try MediaDecryptor(mediaKey: key, kind: kind)
            _ = try decryptor.update(bytes)
            _ = try decryptor.finish(expecting: digest)
        }
        var flipped = encrypted
        flipped[100] ^= 0x01
        #expect(throws: MediaCryptoError.macMismatch) { try decrypt(flipped, digest: digest) }
        var badMAC = encrypted
        badMAC[badMAC.count - 1] ^= 0x80
        #expect(throws: MediaCryptoError.macMismatch) { try decrypt(badMAC) }
        #expect(throws: MediaCryptoError.macMismatch) { try decrypt(encrypted, key: MediaKeys.randomMediaKey()) }
        #expect(throws: MediaCryptoError.macMismatch) { try decrypt(encrypted, kind: .document) }
        #expect(throws: MediaCryptoError.truncated) { try decrypt(Array(encrypted.prefix(20))) }
        #expect(throws: MediaCryptoError.truncated) { try decrypt(Array(encrypted.dropFirst(3))) }

        var otherFile = digest
        otherFile.fileEncSHA256[0] ^= 1
        #expect(throws: MediaCryptoError.encryptedHashMismatch) { try decrypt(encrypted, digest: otherFile) }
        otherFile = digest
        otherFile.fileSHA256[0] ^= 1
        #expect(throws: MediaCryptoError.plaintextHashMismatch) { try decrypt(encrypted, digest: otherFile) }
        otherFile = digest
        otherFile.fileLength += 1
        #expect(throws: MediaCryptoError.lengthMismatch(expected: 3001, actual: 3000)) { try decrypt(encrypted, digest: otherFile) }
        #expect(throws: Never.self) { try decrypt(encrypted, digest: digest) }
    }

    @Test("a file the peer encrypted and someone altered is refused, and the half-written output removed")
    func tamperedFileOnDisk() async throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let key = MediaKeys.randomMediaKey()
        let plainURL = folder.appendingPathComponent("plain")
        try Data(Self.randomBytes(MediaFileCrypto.chunkSize + 100)).write(to: plainURL)
        let encryptedURL = folder.appendingPathComponent("enc")
        _ = try await Self.peer("encrypt", .video, key: key, plainURL, encryptedURL)
        var bytes = try Data(contentsOf: encryptedURL)
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: encryptedURL)
        let output = folder.appendingPathComponent("out")
        #expect(throws: MediaCryptoError.macMismatch) {
            try MediaFileCrypto.decrypt(encryptedURL, to: output, mediaKey: key, kind: .video)
        }
        #expect(!FileManager.default.fileExists(atPath: output.path))
        // And the peer refuses it too.
        let peerRun = try await PythonPeer.run("media_peer.py", arguments: ["decrypt", "video", Data(key).hex, encryptedURL.path, output.path])
        #expect(peerRun.status == 3)
    }
}
