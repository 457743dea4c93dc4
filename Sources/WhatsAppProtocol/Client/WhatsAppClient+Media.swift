import Foundation

extension WhatsAppClient {
    /// The media hosts and upload credential: the cached answer while it is valid, else a new
    /// `media_conn` query (concurrent callers share one). `forceRefresh` asks again whatever the
    /// cache holds (after a host refused the credential).
    public func mediaConnection(forceRefresh: Bool = false) async throws -> MediaConnection {
        try await mediaConnections.connection(forceRefresh: forceRefresh) { [weak self] in
            guard let self else { throw InfoQueryError.notConnected }
            let answer = try await self.sendIQ(MediaConnection.query)
            return try MediaConnection(answer: answer, fetchedAt: Date())
        }
    }
}

extension WhatsAppClient {
    /// Downloads the file of an incoming media message from the media hosts `media_conn` names
    /// (through this client's proxy and trusted CAs), verified and decrypted into `destination`.
    /// Runs off the client's actor; the connection must be logged in for `media_conn`.
    public nonisolated func downloadMedia(_ media: DownloadableMedia, to destination: URL, maximumBytes: Int) async throws(MediaDownloadError) {
        guard media.fileLength <= maximumBytes else { throw .tooLarge(length: media.fileLength, limit: maximumBytes) }
        let connection: MediaConnection
        do {
            connection = try await mediaConnection()
        } catch {
            throw .transient("media_conn: \(error)")
        }
        let downloader = MediaDownloader(proxy: options.proxy, additionalTrustedCAFile: options.additionalTrustedCAFile)
        try await downloader.download(media, hosts: connection.hosts, to: destination, maxBytes: maximumBytes)
    }
}
