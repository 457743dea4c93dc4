import BuzzBridgeCore
import BuzzBridgeStorage
import Logging
import ServiceLifecycle

/// Keeps this node's share of the sessions when several nodes share one database: every third
/// of a lease duration it surveys the leases, renews its own, takes free and expired ones as
/// ``SessionOwnershipPlan`` spreads them, hands over its excess, and runs engines exactly for
/// the sessions it holds (through ``SessionHub/adopt(_:)`` and ``SessionHub/drop(_:)``).
///
/// Guarantees: an engine runs only under a held lease; a lease that could not be renewed in time
/// has its engine stopped before it expires by the database's clock (a watch separate from the
/// rounds, so a round stuck on an unreachable database cannot delay it); on graceful shutdown
/// every engine stops, then every lease is released and the node leaves, so the other nodes
/// take its sessions at their next round instead of after the expiry.
actor SessionOwnership {
    private struct Held {
        var lease: OwnedLease
        /// By this node's clock, from before the request that granted or renewed the lease.
        var validUntil: ContinuousClock.Instant
    }

    private let leases: any SessionOwnershipStore
    private let store: any GatewayStore
    private let hub: SessionHub
    private let logger: Logger
    private let metrics: OwnershipMetrics
    private let plan: SessionOwnershipPlan
    private var held: [SessionID: Held] = [:] {
        didSet { metrics.held.record(held.count) }
    }
    private var stopped = false

    init(leases: any SessionOwnershipStore, store: any GatewayStore, hub: SessionHub, metrics: OwnershipMetrics, logger: Logger) {
        self.metrics = metrics
        self.leases = leases
        self.store = store
        self.hub = hub
        self.logger = logger
        self.plan = SessionOwnershipPlan(node: leases.node)
    }

    /// The time between rounds; three rounds fit in a lease, so one failed renewal is survived.
    nonisolated var interval: Duration { leases.leaseDuration / 3 }

    /// The sessions this node holds a lease on.
    func heldSessions() -> Set<SessionID> { Set(held.keys) }

    /// The fencing token of this node's lease on `session`, nil when it holds none.
    func token(for session: SessionID) -> Int64? { held[session]?.lease.token }

    /// Takes the session's lease now if nobody holds it, for a request that needs its engine
    /// before the next round; returns whether this node holds it.
    func claim(_ session: Session) async -> Bool {
        guard !stopped else { return false }
        if held[session.id] != nil { return true }
        let started = ContinuousClock.now
        do {
            guard let lease = try await leases.acquire(session.id) else { return false }
            if stopped {
                try? await leases.release(lease)
                return false
            }
            held[session.id] = Held(lease: lease, validUntil: started + leases.leaseDuration)
            metrics.acquired.increment()
            logger.info("session ownership: claimed for a request", metadata: ["session": "\(session.id)", "token": "\(lease.token)"])
            try await hub.adopt(session)
            return true
        } catch {
            logger.warning("session ownership: claim failed", metadata: ["session": "\(session.id)", "error": "\(error)"])
            return false
        }
    }

    /// Runs rounds until graceful shutdown (or cancellation), then hands everything back.
    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.watchExpiries() }
            while !Task.isShuttingDownGracefully, !Task.isCancelled {
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
                if Task.isShuttingDownGracefully || Task.isCancelled { break }
                await round()
            }
            group.cancelAll()
        }
        await handBack()
    }

    /// One round: survey, give up, renew, acquire, and bring the engines in line.
    func round() async {
        guard !stopped else { return }
        let survey: OwnershipSurvey
        let sessions: [Session]
        do {
            survey = try await leases.survey()
            sessions = try await store.sessions()
        } catch {
            logger.warning("session ownership: survey failed", metadata: ["error": "\(error)"])
            return
        }
        let statuses = Dictionary(sessions.map { ($0.id, $0.status) }, uniquingKeysWith: { first, _ in first })
        let actions = plan.leaseActions(sessions: statuses, held: Set(held.keys), survey: survey)
        for id in actions.forget { await giveUp(id, reason: "session deleted") }
        for id in actions.release {
            guard let lease = held.removeValue(forKey: id)?.lease else { continue }
            await hub.drop(id)
            metrics.released.increment()
            do {
                try await leases.release(lease)
                logger.info("session ownership: released", metadata: ["session": "\(id)"])
            } catch {
                leases.abandon(lease)
                logger.warning("session ownership: release failed", metadata: ["session": "\(id)", "error": "\(error)"])
            }
        }
        let toRenew = actions.renew.compactMap { held[$0]?.lease }
        let started = ContinuousClock.now
        do {
            let renewed = Dictionary(try await leases.renew(toRenew).map { ($0.session, $0) }, uniquingKeysWith: { first, _ in first })
            for lease in toRenew {
                let current = held[lease.session]?.lease
                if let fresh = renewed[lease.session] {
                    if current == nil {
                        // Given up by the expiry watch while the renewal was under way.
                        try? await leases.release(fresh)
                    } else if current?.token == lease.token {
                        held[lease.session] = Held(lease: fresh, validUntil: started + leases.leaseDuration)
                    }
                } else if current?.token == lease.token {
                    await giveUp(lease.session, reason: "lease lost")
                }
            }
        } catch {
            logger.warning("session ownership: renewal failed", metadata: ["sessions": "\(toRenew.count)", "error": "\(error)"])
        }
        let byID = Dictionary(sessions.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for id in actions.acquire {
            guard !stopped, let session = byID[id] else { continue }
            let started = ContinuousClock.now
            do {
                guard let lease = try await leases.acquire(id) else { continue }
                held[id] = Held(lease: lease, validUntil: started + leases.leaseDuration)
                metrics.acquired.increment()
                logger.info("session ownership: acquired", metadata: ["session": "\(id)", "token": "\(lease.token)"])
                try await hub.adopt(session)
            } catch {
                logger.warning("session ownership: acquisition failed", metadata: ["session": "\(id)", "error": "\(error)"])
            }
        }
        let linked = Set(sessions.filter(SessionHub.isLinked).map(\.id))
        let engines = SessionOwnershipPlan.engines(held: Set(held.keys), linked: linked, running: await hub.runningSessions())
        for id in engines.stop { await hub.drop(id) }
        for id in engines.start.sorted(by: { $0.rawValue < $1.rawValue }) {
            if let session = byID[id] { await hub.start(session) }
        }
    }

    /// Stops the engines of leases about to expire unrenewed, checking four times a round.
    private func watchExpiries() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval / 4)
            await dropExpiring()
        }
    }

    private func dropExpiring() async {
        let validUntil = held.mapValues(\.validUntil)
        for id in SessionOwnershipPlan.expiring(validUntil, now: .now, within: interval) {
            await giveUp(id, reason: "lease not renewed in time")
        }
    }

    private func giveUp(_ id: SessionID, reason: String) async {
        guard let lease = held.removeValue(forKey: id)?.lease else { return }
        metrics.lost.increment()
        leases.abandon(lease)
        await hub.drop(id)
        logger.warning("session ownership: gave up a session", metadata: ["session": "\(id)", "reason": "\(reason)"])
    }

    /// Graceful shutdown: engines stop first, then the leases go back and the node leaves.
    private func handBack() async {
        stopped = true
        for (id, current) in held.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            held[id] = nil
            await hub.drop(id)
            metrics.released.increment()
            do {
                try await leases.release(current.lease)
            } catch {
                leases.abandon(current.lease)
                logger.warning("session ownership: release failed", metadata: ["session": "\(id)", "error": "\(error)"])
            }
        }
        do {
            try await leases.leave()
        } catch {
            logger.warning("session ownership: leaving failed", metadata: ["error": "\(error)"])
        }
        logger.info("session ownership: every lease released")
    }
}
