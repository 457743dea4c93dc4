import Foundation
import Synchronization

/// Measures how late this process wakes up while a test runs, on a plain thread and on Swift
/// concurrency's executor. An upper bound on a delay ("retried after 1 s, not 5 s") holds only
/// when the process was not itself held up for longer than the difference: a full suite on two
/// cores once kept it from running for 4 s, and once held up the executor's timers (which the
/// webhook drain waits on) for 5 s while plain threads ran on time.
final class StallWatch: Sendable {
    private final class State: Sendable {
        let longest = Mutex<Duration>(.zero)
        let running = Atomic<Bool>(true)

        func note(overslept: Duration) {
            longest.withLock { $0 = max($0, overslept) }
        }
    }

    private static let tick = Duration.milliseconds(50)
    private let state = State()
    private let executorProbe: Task<Void, Never>

    init() {
        let state = state
        let thread = Thread {
            var last = ContinuousClock.now
            while state.running.load(ordering: .relaxed) {
                usleep(50_000)
                let now = ContinuousClock.now
                state.note(overslept: now - last - Self.tick)
                last = now
            }
        }
        thread.start()
        executorProbe = Task.detached {
            var last = ContinuousClock.now
            while state.running.load(ordering: .relaxed), (try? await Task.sleep(for: Self.tick)) != nil {
                let now = ContinuousClock.now
                state.note(overslept: now - last - Self.tick)
                last = now
            }
        }
    }

    /// The longest a 50 ms sleep overslept so far, on the thread or on the executor.
    var longestStall: Duration { state.longest.withLock { $0 } }

    deinit {
        state.running.store(false, ordering: .relaxed)
        executorProbe.cancel()
    }
}
