/// Counts requests per key in a sliding window: at most `limit` counted requests in any window.
///
/// One node keeps its counts in memory; nodes sharing a database count in it, so that a client
/// gets one budget however its requests are spread over the nodes.
public protocol RateLimitCounter: Sendable {
    /// Counts one request for `key` if it fits in `limit` and returns the instant it was counted
    /// at, so that it can be given back with ``release(_:instant:)``; no instant when refused (a
    /// refused request is not counted, so a client that keeps retrying gets in again as soon as
    /// the window allows).
    func reserve(_ key: String, limit: Int) async throws -> (decision: RateLimitDecision, instant: Double?)

    /// Gives back a slot taken by ``reserve(_:limit:)`` (the attempt turned out not to count).
    func release(_ key: String, instant: Double) async throws
}

extension RateLimitCounter {
    /// Counts one request for `key` if it fits in `limit`.
    public func acquire(_ key: String, limit: Int) async throws -> RateLimitDecision {
        try await reserve(key, limit: limit).decision
    }
}
