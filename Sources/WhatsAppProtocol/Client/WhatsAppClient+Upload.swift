import Foundation

extension WhatsAppClient {
    /// Encrypts the file `source` reads and uploads it to the first host of the media connection
    /// (whatsmeow upload.go: Upload), through the chat socket's proxy and trusted CAs.
    ///
    /// Runs off the client's actor except for the `media_conn` query, so encrypting a large file
    /// never holds up incoming messages. Throws ``MediaUploadError`` when the host refuses or
    /// cannot be reached, or the error of the `media_conn` query.
    public nonisolated func uploadMedia(_ source: @escaping MediaUploader.Source, length: Int, kind: MediaKind) async throws -> UploadedMedia {
        let connection = try await mediaConnection()
        let uploader = MediaUploader(client: MediaHostClient(proxy: options.proxy, additionalTrustedCAFile: options.additionalTrustedCAFile))
        return try await uploader.upload(source, length: length, kind: kind, host: connection.hosts[0], auth: connection.auth)
    }
}
