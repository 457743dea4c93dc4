import BuzzBridgeStorage
import DequeModule
import Foundation
import Synchronization

/// A sliding-window log: each key keeps the times of its counted requests within the last
/// `window` seconds. Exact (no burst of twice the limit at a fixed-window boundary), at most
/// `limit` instants per key, and O(1) per request: instants leave from the front of a deque that
/// is changed in place.
public final class SlidingWindowLimiter: RateLimitCounter {
    public let window: Double
    private let now: @Sendable () -> Double
    fileprivate let state = Mutex<State>(State())

    fileprivate struct State {
        var hits: [String: Deque<Double>] = [:]
        var operationsSinceSweep = 0
    }

    /// `now` returns seconds on any steadily increasing scale; tests may pass their own.
    public init(window: Double = 60, now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.window = window
        self.now = now
    }

    /// Counts one request for `key` if it fits in `limit`; a refused request is not counted,
    /// so a client that keeps retrying gets in again as soon as the window allows.
    public func acquire(_ key: String, limit: Int) -> RateLimitDecision {
        reserve(key, limit: limit).decision
    }

    /// Counts one request for `key` like ``acquire(_:limit:)`` and returns the instant it was
    /// counted at, so that it can be given back with ``release(_:instant:)``; nil when refused.
    public func reserve(_ key: String, limit: Int) -> (decision: RateLimitDecision, instant: Double?) {
        let time = now()
        return state.withLock { state in
            state.sweepIfDue(before: time - window)
            return state.hits[key, default: []].withExpiredDropped(before: time - window) { hits in
                let allowed = hits.count < limit
                if allowed { hits.append(time) }
                return (decision(hits: hits, limit: limit, allowed: allowed, at: time), allowed ? time : nil)
            }
        }
    }

    /// Gives back a slot taken by ``reserve(_:limit:)`` (the attempt turned out not to count).
    public func release(_ key: String, instant: Double) {
        state.withLock { state in
            guard var hits = state.hits[key], let index = hits.lastIndex(of: instant) else { return }
            hits.remove(at: index)
            state.hits[key] = hits
        }
    }

    /// Keys with instants in memory.
    var trackedKeys: Int { state.withLock { $0.trackedKeys } }

    private func decision(hits: Deque<Double>, limit: Int, allowed: Bool, at time: Double) -> RateLimitDecision {
        RateLimitDecision(hits: hits, limit: limit, allowed: allowed, window: window, at: time)
    }
}

extension SlidingWindowLimiter.State {
    /// Addresses that tried once and left must not stay in memory forever. Only keys whose
    /// newest instant has left the window go; the others drop their old instants on their next
    /// request. (Copying every key's log here, as this once did, cost a copy of up to a minute of
    /// a busy key's requests every 1,024 requests.)
    mutating func sweepIfDue(before cutoff: Double) {
        operationsSinceSweep += 1
        guard operationsSinceSweep >= 1024 else { return }
        operationsSinceSweep = 0
        hits = hits.filter { _, times in (times.last ?? cutoff) > cutoff }
    }

    var trackedKeys: Int { hits.count }
}

extension Deque<Double> {
    /// Drops the instants at or before `cutoff` (they are in time order), then runs `body` on what is left.
    mutating func withExpiredDropped<T>(before cutoff: Double, _ body: (inout Deque<Double>) -> T) -> T {
        while let first, first <= cutoff { removeFirst() }
        return body(&self)
    }
}
