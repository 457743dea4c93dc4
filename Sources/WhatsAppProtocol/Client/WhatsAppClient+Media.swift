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
