/// First-come, first-served mutual exclusion per key for one actor's async work: holders of
/// different keys never wait for each other; a holder of a key waits only for the earlier holders
/// of the same key. The owning actor serializes the calls.
struct KeyedGate<Key: Hashable & Sendable>: Sendable {
    /// The keys held now, each with the callers waiting for it in arrival order.
    private var held: [Key: [CheckedContinuation<Void, Never>]] = [:]

    /// True when the caller may go in at once; otherwise it must wait with `queue`.
    mutating func tryEnter(_ key: Key) -> Bool {
        guard held[key] == nil else { return false }
        held[key] = []
        return true
    }

    mutating func queue(_ key: Key, _ continuation: CheckedContinuation<Void, Never>) {
        held[key, default: []].append(continuation)
    }

    /// Hands `key` to its next waiter, or frees it.
    mutating func leave(_ key: Key) {
        guard var waiting = held[key] else { return }
        if waiting.isEmpty {
            held[key] = nil
        } else {
            let next = waiting.removeFirst()
            held[key] = waiting
            next.resume()
        }
    }

    /// Whether anyone holds `key`.
    func isHeld(_ key: Key) -> Bool { held[key] != nil }

    /// How many callers wait for `key`.
    func waiters(_ key: Key) -> Int { held[key]?.count ?? 0 }
}
