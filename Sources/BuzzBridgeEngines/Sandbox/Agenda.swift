/// Things to do at given instants, kept in time order (ties in the order they were added).
///
/// The sandbox reports a delivery for every message it sends; one clock waking for whatever is due
/// costs far less than a sleeping task and a system timer per message.
struct Agenda<Action> {
    private var entries: [(due: ContinuousClock.Instant, action: Action)] = []

    var nextDue: ContinuousClock.Instant? { entries.first?.due }
    var isEmpty: Bool { entries.isEmpty }

    mutating func add(_ action: Action, at due: ContinuousClock.Instant) {
        // Delays are mostly equal, so new entries mostly go last: search from the end.
        var index = entries.endIndex
        while index > entries.startIndex, entries[index - 1].due > due { index -= 1 }
        entries.insert((due, action), at: index)
    }

    /// Removes and returns, in order, every action due at or before `now`.
    mutating func removeDue(at now: ContinuousClock.Instant) -> [Action] {
        let count = entries.prefix { $0.due <= now }.count
        defer { entries.removeFirst(count) }
        return entries.prefix(count).map(\.action)
    }

    mutating func removeAll() { entries.removeAll() }
}
