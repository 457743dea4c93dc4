import BuzzBridgeCore
import BuzzBridgeEngines
import BuzzBridgeStorage

/// What every route needs: the store and the engines.
struct GatewayServices: Sendable {
    let store: any GatewayStore
    let hub: SessionHub
    let pacer: SendPacer
    /// Answers of sends made with an `Idempotency-Key`, shared by every request.
    let idempotentSends: IdempotentSends
    /// Media files, their limits, the fetcher of `media.url` and the signer of media links.
    let blobs: any BlobStore
    let media: MediaConfiguration
    let mediaFetcher: MediaFetcher
    let mediaLinks: MediaLinkSigner
    let metrics: GatewayMetrics
    let privacy: LogPrivacy
    /// With several nodes: where sends for another node's sessions wait for it.
    var sendQueue: (any SendQueueStore)? { store.sendQueue }

    /// The caller's session; a key whose session vanished is a key that no longer works.
    func session(for context: GatewayRequestContext) async throws -> Session {
        let caller = try context.requireCaller()
        guard let session = try await metrics.store.measure(.session, { try await store.session(caller.sessionID) }) else {
            throw APIError(.unauthorized, "Invalid or missing API key")
        }
        return session
    }
}
