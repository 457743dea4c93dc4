import Foundation
import Synchronization

/// Measures how late this process's threads wake up while a test runs. An upper bound on a
/// delay ("retried after 1 s, not 5 s") holds only when the process was not itself held up for
/// longer than the difference: a full suite on two cores once kept it from running for 4 s.
final class StallWatch: Sendable {
    private final class State: Sendable {
        let longest = Mutex<Duration>(.zero)
        let running = Atomic<Bool>(true)
    }

    private let state = State()

    init() {
        let state = state
        let thread = Thread {
            var last = ContinuousClock.now
            while state.running.load(ordering: .relaxed) {
                usleep(50_000)
                let now = ContinuousClock.now
                state.longest.withLock { $0 = max($0, now - last - .milliseconds(50)) }
                last = now
            }
        }
        thread.start()
    }

    /// The longest a 50 ms sleep overslept so far.
    var longestStall: Duration { state.longest.withLock { $0 } }

    deinit { state.running.store(false, ordering: .relaxed) }
}
