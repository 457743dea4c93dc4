import Foundation

/// Encrypts and decrypts media files on disk through ``MediaEncryptor`` and ``MediaDecryptor``,
/// in fixed-size pieces, so that a file of any size costs the same memory.
public enum MediaFileCrypto {
    /// The piece read at a time.
    public static let chunkSize = 256 * 1024

    /// Writes `source` encrypted (ciphertext and MAC: the upload body) to `destination`.
    public static func encrypt(_ source: URL, to destination: URL, mediaKey: some DataProtocol, kind: MediaKind) throws -> MediaDigest {
        var encryptor = try MediaEncryptor(mediaKey: mediaKey, kind: kind)
        return try transform(source, to: destination) { chunk in
            try encryptor.update(chunk)
        } finish: {
            let (tail, digest) = try encryptor.finish()
            return (tail, digest)
        }
    }

    /// Writes `source` (an encrypted file) decrypted to `destination` once it checked out; on any
    /// failure `destination` is removed and the typed ``MediaCryptoError`` is thrown.
    @discardableResult
    public static func decrypt(
        _ source: URL, to destination: URL, mediaKey: some DataProtocol, kind: MediaKind, expecting digest: MediaDigest? = nil
    ) throws -> [UInt8] {
        var decryptor = try MediaDecryptor(mediaKey: mediaKey, kind: kind)
        return try transform(source, to: destination) { chunk in
            try decryptor.update(chunk)
        } finish: {
            let tail = try decryptor.finish(expecting: digest)
            return (tail, decryptor.fileSHA256)
        }
    }

    private static func transform<Result>(
        _ source: URL, to destination: URL, update: (Data) throws -> [UInt8], finish: () throws -> ([UInt8], Result)
    ) throws -> Result {
        let input = try FileHandle(forReadingFrom: source)
        defer { try? input.close() }
        guard FileManager.default.createFile(atPath: destination.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: destination.path])
        }
        let output = try FileHandle(forWritingTo: destination)
        do {
            while let chunk = try input.read(upToCount: chunkSize), !chunk.isEmpty {
                let out = try update(chunk)
                if !out.isEmpty { try output.write(contentsOf: out) }
            }
            let (tail, result) = try finish()
            try output.write(contentsOf: tail)
            try output.close()
            return result
        } catch {
            try? output.close()
            try? FileManager.default.removeItem(at: destination)
            throw error
        }
    }
}
