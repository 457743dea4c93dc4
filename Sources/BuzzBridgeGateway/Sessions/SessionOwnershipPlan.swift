import BuzzBridgeCore
import BuzzBridgeStorage

/// What one node does with session leases on each round, as pure decisions on what it holds, the
/// sessions in the store and a survey of every lease and live node; ``SessionOwnership`` applies
/// them.
///
/// Guarantees:
/// - every session is wanted by exactly one live node when all of them decide on the same survey:
///   a free or expired session goes to the least-loaded live node (ties to the smallest node id),
///   or to the node an operator moved (pinned) it to, if that node is live;
/// - a node holding a session pinned to another live node releases it;
/// - a node holding more than its fair share (sessions ÷ live nodes, rounded up) releases the
///   excess, never a session in the middle of pairing nor one pinned to it, so that a node
///   joining gets its part;
/// - a node renews every lease it keeps and gives up, before it expires, any lease it could not
///   renew in time (``expiring(_:now:within:)``), so it never talks to WhatsApp for a session
///   another node may have taken;
/// - engines run exactly for the held sessions that have an account to log in to
///   (``engines(held:linked:running:)``).
struct SessionOwnershipPlan: Sendable, Equatable {
    let node: String

    struct LeaseActions: Sendable, Equatable {
        /// Held and kept: renew them.
        var renew: [SessionID] = []
        /// Held, but to be handed over (excess, or pinned to another live node): stop the engine,
        /// then release.
        var release: [SessionID] = []
        /// Held, but the session is gone from the store: stop the engine and forget the lease.
        var forget: [SessionID] = []
        /// Free or expired and this node's by the spreading rule: acquire them.
        var acquire: [SessionID] = []
    }

    /// `sessions`: every session in the store with its status; `held`: the sessions this node
    /// holds a lease on.
    func leaseActions(sessions: [SessionID: SessionStatus], held: Set<SessionID>, survey: OwnershipSurvey) -> LeaseActions {
        var actions = LeaseActions()
        let live = survey.liveNodes.union([node])
        let now = survey.now
        actions.forget = held.filter { sessions[$0] == nil }.sorted(by: Self.order)
        var kept = held.filter { sessions[$0] != nil }

        // Pinned to another live node (a move): handed over now.
        let moving = kept.filter { id in survey.leases[id]?.pinnedTo.map { $0 != node && live.contains($0) } ?? false }
        kept.subtract(moving)
        // Beyond the fair share: the excess goes; sessions being paired and pinned here stay.
        let share = (sessions.count + live.count - 1) / live.count
        var excess: [SessionID] = []
        if kept.count > share {
            let releasable = kept.filter { sessions[$0] != .pending && survey.leases[$0]?.pinnedTo != node }.sorted(by: Self.order).reversed()
            excess = Array(releasable.prefix(kept.count - share))
            kept.subtract(excess)
        }
        actions.release = (Array(moving) + excess).sorted(by: Self.order)
        actions.renew = kept.sorted(by: Self.order)

        // Spread what nobody holds: one at a time to the least-loaded live node, as every node
        // computes it alike; this node acquires what falls to it.
        var load = Dictionary(uniqueKeysWithValues: live.map { ($0, 0) })
        load[node] = kept.count
        for (id, lease) in survey.leases where sessions[id] != nil {
            if let holder = lease.holder(at: now), holder != node, live.contains(holder) { load[holder, default: 0] += 1 }
        }
        for id in sessions.keys.sorted(by: Self.order) where !held.contains(id) {
            let lease = survey.leases[id]
            // Held by a live grant (a dead node's grant until it expires, this node's own after a
            // restart under the same id): not free yet.
            if lease?.holder(at: now) != nil { continue }
            let target: String
            if let pinnedTo = lease?.pinnedTo, live.contains(pinnedTo) {
                target = pinnedTo
            } else {
                target = load.min { $0.value != $1.value ? $0.value < $1.value : $0.key < $1.key }?.key ?? node
            }
            load[target, default: 0] += 1
            if target == node { actions.acquire.append(id) }
        }
        return actions
    }

    /// Which engines to start (held sessions with an account to log in to, not running) and stop
    /// (running without a lease). A held session being paired keeps the engine its requests made.
    static func engines(held: Set<SessionID>, linked: Set<SessionID>, running: Set<SessionID>) -> (start: Set<SessionID>, stop: Set<SessionID>) {
        (held.intersection(linked).subtracting(running), running.subtracting(held))
    }

    /// The held leases with less than `within` left until they expire (by this node's clock,
    /// measured from before the request that granted or renewed them): they cannot be renewed in
    /// time any more, so this node gives them up first.
    static func expiring(_ validUntil: [SessionID: ContinuousClock.Instant], now: ContinuousClock.Instant, within: Duration) -> [SessionID] {
        validUntil.filter { $0.value - now < within }.map(\.key).sorted(by: order)
    }

    private static func order(_ lhs: SessionID, _ rhs: SessionID) -> Bool { lhs.rawValue < rhs.rawValue }
}
