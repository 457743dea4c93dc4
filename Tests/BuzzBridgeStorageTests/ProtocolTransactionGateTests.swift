import Synchronization
import Testing

@testable import BuzzBridgePostgres

/// The gate in front of PostgreSQL's protocol-state transactions: never more inside than its
/// limit, every caller admitted in the end, and a throwing body frees its place.
@Suite("PostgreSQL store: protocol transaction gate")
struct ProtocolTransactionGateTests {
    struct Failed: Error {}

    /// What the test's tasks count together.
    final class Counts: Sendable {
        let inside = Mutex((now: 0, most: 0, done: 0))
        let again = Mutex(0)
    }

    @Test func atMostTheLimitRunAtOnceAndEveryoneGetsIn() async throws {
        let gate = ProtocolTransactionGate(limit: 3)
        let counts = Counts()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<40 {
                group.addTask {
                    do {
                        try await gate.run {
                            counts.inside.withLock { state in
                                state.now += 1
                                state.most = max(state.most, state.now)
                            }
                            try await Task.sleep(for: .milliseconds(5))
                            counts.inside.withLock { state in
                                state.now -= 1
                                state.done += 1
                            }
                            if index.isMultiple(of: 7) { throw Failed() }
                        }
                    } catch is Failed {}
                }
            }
            try await group.waitForAll()
        }
        let seen = counts.inside.withLock { $0 }
        #expect(seen.done == 40)
        #expect(seen.most == 3, "never more than the limit, and the limit reached: \(seen.most)")
        // Failed bodies gave their places back: three still get in at once.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<3 { group.addTask { try await gate.run { counts.again.withLock { $0 += 1 } } } }
            try await group.waitForAll()
        }
        #expect(counts.again.withLock { $0 } == 3)
    }
}
