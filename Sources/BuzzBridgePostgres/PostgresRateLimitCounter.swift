import BuzzBridgeStorage
import Logging
import PostgresNIO

/// A sliding-window request counter in PostgreSQL, shared by every node on the database: the
/// instants of a key's counted requests are one row's array, read, trimmed to the window and
/// extended under the row's lock in one call of `buzzbridge_rate_limit_reserve` (migration 7), so
/// that requests racing on several nodes are counted one after the other and never exceed the
/// limit. Instants are the database's clock, so the nodes' own clocks do not matter.
struct PostgresRateLimitCounter: RateLimitCounter {
    let client: PostgresClient
    let logger: Logger
    /// Keeps this counter's keys apart from other counters' in the one table.
    let name: String
    let window: Double

    func reserve(_ key: String, limit: Int) async throws -> (decision: RateLimitDecision, instant: Double?) {
        let rows = try await client.query(
            """
            SELECT granted, window_hits, at_seconds FROM buzzbridge_rate_limit_reserve(\(name), \(key), \(limit), \(window))
            """,
            logger: logger)
        for try await (granted, hits, time) in rows.decode((Bool, [Double], Double).self) {
            let decision = RateLimitDecision(hits: hits, limit: limit, allowed: granted, window: window, at: time)
            return (decision, granted ? time : nil)
        }
        throw PostgresRateLimitCounterError.noAnswer
    }

    func release(_ key: String, instant: Double) async throws {
        try await client.query(
            """
            UPDATE rate_limit_windows SET hits = array_remove(hits, \(instant)::float8)
            WHERE counter = \(name) AND key = \(key)
            """,
            logger: logger)
    }
}

enum PostgresRateLimitCounterError: Error, CustomStringConvertible {
    case noAnswer

    var description: String { "the rate-limit function returned no row" }
}
