/// A first-come, first-served gate for one actor's async work: `enter` returns when no other
/// holder is inside, `leave` lets the next one in. The owning actor serializes the calls.
struct SerialGate: Sendable {
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    /// True when the caller may go in at once; otherwise it must wait with `queue`.
    mutating func tryEnter() -> Bool {
        guard busy else {
            busy = true
            return true
        }
        return false
    }

    mutating func queue(_ continuation: CheckedContinuation<Void, Never>) {
        waiting.append(continuation)
    }

    /// Hands the gate to the next waiter, or opens it.
    mutating func leave() {
        if waiting.isEmpty {
            busy = false
        } else {
            waiting.removeFirst().resume()
        }
    }
}
