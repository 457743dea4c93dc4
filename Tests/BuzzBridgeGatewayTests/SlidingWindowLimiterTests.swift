import Synchronization
import Testing

@testable import BuzzBridgeGateway

@Suite("Sliding-window limiter")
struct SlidingWindowLimiterTests {
    /// A clock the test moves by hand.
    final class ManualClock: Sendable {
        let seconds = Mutex<Double>(1_000)
        func advance(by interval: Double) { seconds.withLock { $0 += interval } }
        func now() -> Double { seconds.withLock { $0 } }
    }

    @Test func countsWithinTheWindowAndFreesSlotsAsInstantsLeaveIt() {
        let clock = ManualClock()
        let limiter = SlidingWindowLimiter(window: 60, now: clock.now)
        for _ in 0..<3 { #expect(limiter.acquire("key", limit: 3).allowed) }
        let refused = limiter.acquire("key", limit: 3)
        #expect(!refused.allowed && refused.remaining == 0 && refused.resetAfter == 60)
        clock.advance(by: 60.5)
        #expect(limiter.acquire("key", limit: 3).remaining == 2)
    }

    @Test func keysWhoseRequestsAllLeftTheWindowAreForgottenAndBusyOnesKept() {
        let clock = ManualClock()
        let limiter = SlidingWindowLimiter(window: 60, now: clock.now)
        for client in 0..<500 { _ = limiter.acquire("address \(client)", limit: 5) }
        #expect(limiter.trackedKeys == 500)
        clock.advance(by: 61)
        // A busy key: its requests keep coming, so it stays; the sweep runs every 1,024 requests.
        for _ in 0..<1_100 { _ = limiter.acquire("busy", limit: 10_000) }
        #expect(limiter.trackedKeys == 1)
        #expect(limiter.acquire("busy", limit: 10_000).remaining == 10_000 - 1_101)
        #expect(limiter.acquire("address 7", limit: 5).remaining == 4, "its old request left the window")
    }
}
