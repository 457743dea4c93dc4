import Foundation

/// Keepalive pings and when to give up on the connection (whatsmeow keepalive.go): a `w:p`
/// ping every 20–30 s (random), each answered within 10 s or counted as failed; after 3
/// minutes without a successful ping the client reconnects. A pure value: the client feeds it
/// the clock, so tests drive it with any times.
public struct KeepAlive: Sendable {
    public struct Timing: Sendable, Equatable {
        public var minimumInterval: Duration
        public var maximumInterval: Duration
        public var responseDeadline: Duration
        public var maximumFailTime: Duration

        public init(minimumInterval: Duration, maximumInterval: Duration, responseDeadline: Duration, maximumFailTime: Duration) {
            self.minimumInterval = minimumInterval
            self.maximumInterval = maximumInterval
            self.responseDeadline = responseDeadline
            self.maximumFailTime = maximumFailTime
        }

        /// whatsmeow keepalive.go: KeepAliveIntervalMin/Max, KeepAliveResponseDeadline, KeepAliveMaxFailTime.
        public static let whatsmeow = Timing(
            minimumInterval: .seconds(20),
            maximumInterval: .seconds(30),
            responseDeadline: .seconds(10),
            maximumFailTime: .seconds(180)
        )
    }

    public enum Outcome: Sendable, Equatable {
        case healthy
        /// Answered again after `failures` unanswered pings.
        case restored
        /// Unanswered; `count` in a row, not yet long enough to reconnect.
        case failed(count: Int)
        /// No answer for longer than the allowed time: reconnect.
        case reconnect(count: Int)
    }

    public let timing: Timing
    public private(set) var lastSuccess: ContinuousClock.Instant
    public private(set) var failures = 0

    public init(timing: Timing = .whatsmeow, startedAt: ContinuousClock.Instant) {
        self.timing = timing
        lastSuccess = startedAt
    }

    /// The wait before the next ping: uniformly random in [minimum, maximum), in milliseconds.
    public func nextInterval(using generator: inout some RandomNumberGenerator) -> Duration {
        let minimum = timing.minimumInterval / .milliseconds(1)
        let maximum = timing.maximumInterval / .milliseconds(1)
        guard maximum > minimum else { return timing.minimumInterval }
        return .milliseconds(Int64.random(in: Int64(minimum)..<Int64(maximum), using: &generator))
    }

    public mutating func answered(at now: ContinuousClock.Instant) -> Outcome {
        let wasFailing = failures > 0
        failures = 0
        lastSuccess = now
        return wasFailing ? .restored : .healthy
    }

    /// A ping got no answer within the deadline (or could not be sent).
    public mutating func unanswered(at now: ContinuousClock.Instant) -> Outcome {
        failures += 1
        return now - lastSuccess > timing.maximumFailTime ? .reconnect(count: failures) : .failed(count: failures)
    }

    /// `<iq xmlns="w:p" type="get" to="s.whatsapp.net"/>`, no child (whatsmeow keepalive.go: sendKeepAlive).
    /// Never retried: a ping cut off by a lost connection simply failed.
    public static let ping = InfoQuery(namespace: "w:p", kind: .get, retriesAfterReconnect: false)
}
