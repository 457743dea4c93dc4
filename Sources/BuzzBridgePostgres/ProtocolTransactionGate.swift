import DequeModule
import Synchronization

/// Admits at most `limit` protocol-state transactions at once, the rest in arrival order.
///
/// A transaction leases a connection before it reaches one of the store's blocking threads; with
/// the gate in front, no more connections are leased for protocol state than there are threads
/// to use them, so waiting transactions never hold connections the API's queries need.
final class ProtocolTransactionGate: Sendable {
    private struct State {
        var free: Int
        var waiters: Deque<CheckedContinuation<Void, Never>> = []
    }

    private let state: Mutex<State>

    init(limit: Int) {
        state = Mutex(State(free: limit))
    }

    func run<T>(_ body: () async throws -> T) async throws -> T {
        await enter()
        defer { leave() }
        return try await body()
    }

    private func enter() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let admitted = state.withLock { state -> Bool in
                guard state.free > 0 else {
                    state.waiters.append(continuation)
                    return false
                }
                state.free -= 1
                return true
            }
            if admitted { continuation.resume() }
        }
    }

    /// Hands the place to the next waiter, if any, else frees it.
    private func leave() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let next = state.waiters.popFirst() { return next }
            state.free += 1
            return nil
        }
        next?.resume()
    }
}
