import Foundation

/// Keeps the last ``MediaConnection`` until it expires and makes sure concurrent callers share
/// one query: while a query is in flight, every caller waits for that one answer (whatsmeow
/// mediaconn.go: refreshMediaConn under mediaConnLock).
actor MediaConnectionCache {
    private var current: MediaConnection?
    private var inFlight: Task<MediaConnection, any Error>?

    /// The cached connection when still valid at `now` (and not `forceRefresh`), else the answer
    /// of one `fetch` shared by everyone asking meanwhile. A failed fetch is not cached.
    func connection(
        now: Date = Date(), forceRefresh: Bool = false, fetch: @escaping @Sendable () async throws -> MediaConnection
    ) async throws -> MediaConnection {
        if !forceRefresh, let current, current.isValid(at: now) { return current }
        if let inFlight { return try await inFlight.value }
        let task = Task { try await fetch() }
        inFlight = task
        defer { inFlight = nil }
        let fetched = try await task.value
        current = fetched
        return fetched
    }

    /// Forgets the cached connection (after the hosts refused its credential).
    func invalidate() { current = nil }
}
