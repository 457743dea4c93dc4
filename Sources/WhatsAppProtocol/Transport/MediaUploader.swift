import Foundation

/// Encrypts a file as WhatsApp does and uploads it to a media host (whatsmeow upload.go: Upload).
///
/// The upload URL names the SHA-256 of the encrypted file, which is known only once the whole
/// file is encrypted; rather than hold the file or its ciphertext, the uploader reads it twice:
/// a first pass encrypts it for the digest and discards the ciphertext, a second encrypts it
/// again (same key and iv, so the same bytes) straight into the request body.
///
/// Guarantees: memory is bounded by one piece of the file, whatever its size; the body sent is
/// checked to hash to the announced token (a file that changed between the passes fails with
/// ``MediaUploadError/fileChanged``); every failure is a typed ``MediaUploadError`` and only a
/// `200` answer with a direct path counts as uploaded. One attempt on the first host, as whatsmeow.
public struct MediaUploader: Sendable {
    /// The file's bytes from the start, in pieces; called once per pass.
    public typealias Source = @Sendable () -> AsyncThrowingStream<[UInt8], any Error>

    public var client: MediaHostClient

    public init(client: MediaHostClient) {
        self.client = client
    }

    public func upload(
        _ source: Source, length: Int, kind: MediaKind, host: String, auth: String, mediaKey: [UInt8] = MediaKeys.randomMediaKey()
    ) async throws(MediaUploadError) -> UploadedMedia {
        let keyTime = Date()
        let digest = try await Self.encrypt(source, mediaKey: mediaKey, kind: kind) { _ in }
        guard digest.fileLength == length else { throw .fileChanged }
        let token = MediaUpload.token(fileEncSHA256: digest.fileEncSHA256)
        let response: MediaHostResponse
        do {
            response = try await client.post(
                host: host, target: MediaUpload.target(kind: kind, token: token, auth: auth),
                contentLength: MediaUpload.encryptedLength(plainLength: length)
            ) { write in
                let sent = try await Self.encrypt(source, mediaKey: mediaKey, kind: kind) { bytes in
                    do {
                        try await write(bytes)
                    } catch {
                        throw MediaHostError.connectionFailed(host: host, reason: "writing the file: \(error)")
                    }
                }
                guard sent == digest else { throw MediaUploadError.fileChanged }
            }
        } catch let error as MediaUploadError {
            throw error
        } catch MediaHostError.connectionFailed(let host, let reason) {
            throw .unreachable(host: host, reason: reason)
        } catch MediaHostError.answerTooLarge {
            throw .malformedAnswer("the answer is larger than an upload answer can be")
        } catch {
            throw .unreachable(host: host, reason: "\(error)")
        }
        guard response.status == 200 else { throw .refused(host: host, status: response.status) }
        let location = try MediaUpload.location(from: response.body)
        return UploadedMedia(mediaKey: mediaKey, digest: digest, url: location.url, directPath: location.directPath, mediaKeyTimestamp: keyTime)
    }

    /// One pass: reads `source`, hands the ciphertext (and MAC) to `write`, returns the digest.
    private static func encrypt(
        _ source: Source, mediaKey: [UInt8], kind: MediaKind, into write: (_ bytes: [UInt8]) async throws -> Void
    ) async throws(MediaUploadError) -> MediaDigest {
        do {
            var encryptor = try MediaEncryptor(mediaKey: mediaKey, kind: kind)
            for try await piece in source() {
                let ciphertext = try encryptor.update(piece)
                if !ciphertext.isEmpty { try await write(ciphertext) }
            }
            let (tail, digest) = try encryptor.finish()
            try await write(tail)
            return digest
        } catch let error as MediaUploadError {
            throw error
        } catch MediaHostError.connectionFailed(let host, let reason) {
            throw .unreachable(host: host, reason: reason)
        } catch is MediaCryptoError {
            throw .unreadable("the file could not be encrypted")
        } catch {
            throw .unreadable("\(error)")
        }
    }
}
