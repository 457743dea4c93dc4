import BuzzBridgeCore
import BuzzBridgeStorage
import Logging
import PostgresNIO

/// Session ownership for several nodes on one PostgreSQL database: the leases of
/// ``SessionLeases`` (so the store's protocol writes are fenced by the tokens granted here) and a
/// heartbeat per node in `cluster_nodes`, both by the database's clock.
///
/// A node's heartbeat is written at the start of each survey and lasts one lease duration, like
/// the leases it renews just after: a node that dies drops out of the live nodes no later than
/// its leases expire, so the survivors never wait for a dead node to take a session.
public struct PostgresSessionOwnership: SessionOwnershipStore {
    public let leases: SessionLeases

    public init(leases: SessionLeases) {
        self.leases = leases
    }

    public var node: String { leases.policy.node }
    public var leaseDuration: Duration { leases.policy.duration }

    /// Nodes silent for this long are deleted from `cluster_nodes` (they are long out of the live ones).
    private static let forgottenAfterMilliseconds: Int64 = 86_400_000

    public func survey() async throws -> OwnershipSurvey {
        let (node, duration, logger) = (node, leaseDuration, leases.logger)
        return try await leases.client.withConnection { connection in
            let now = try await SessionLeases.now(connection, logger: logger)
            try await connection.query(
                """
                INSERT INTO cluster_nodes (node_id, alive_until) VALUES (\(node), \(now.adding(duration).millisecondsSinceEpoch))
                ON CONFLICT (node_id) DO UPDATE SET alive_until = EXCLUDED.alive_until
                """, logger: logger)
            try await connection.query(
                "DELETE FROM cluster_nodes WHERE alive_until < \(now.millisecondsSinceEpoch - Self.forgottenAfterMilliseconds)", logger: logger)
            var live: Set<String> = []
            for try await id in try await connection.query(
                "SELECT node_id FROM cluster_nodes WHERE alive_until > \(now.millisecondsSinceEpoch)", logger: logger
            ).decode(String.self) {
                live.insert(id)
            }
            var states: [SessionID: LeaseState] = [:]
            for try await (session, owner, expiresAt, pinnedTo) in try await connection.query(
                "SELECT session_id, owner, expires_at, pinned_to FROM session_leases", logger: logger
            ).decode((String, String?, Int64, String?).self) {
                states[SessionID(rawValue: session)] = LeaseState(
                    owner: owner, expiresAt: Timestamp(millisecondsSinceEpoch: expiresAt), pinnedTo: pinnedTo)
            }
            return OwnershipSurvey(now: now, leases: states, liveNodes: live)
        }
    }

    public func acquire(_ session: SessionID) async throws -> OwnedLease? {
        let lease: SessionLease
        do {
            lease = try await leases.acquire(session)
        } catch SessionLeaseError.held {
            return nil
        }
        return OwnedLease(session: session, token: lease.token, expiresAt: lease.expiresAt)
    }

    public func renew(_ held: [OwnedLease]) async throws -> [OwnedLease] {
        try await leases.renew(all: held.map(sessionLease)).map { OwnedLease(session: $0.session, token: $0.token, expiresAt: $0.expiresAt) }
    }

    public func release(_ lease: OwnedLease) async throws {
        do {
            try await leases.release(sessionLease(lease))
        } catch SessionLeaseError.notHolder {
            // Already another node's, or free: nothing of this node's to give back.
        }
    }

    public func abandon(_ lease: OwnedLease) {
        leases.abandon(sessionLease(lease))
    }

    public func leave() async throws {
        try await leases.client.query("DELETE FROM cluster_nodes WHERE node_id = \(node)", logger: leases.logger)
    }

    private func sessionLease(_ lease: OwnedLease) -> SessionLease {
        SessionLease(session: lease.session, owner: node, token: lease.token, expiresAt: lease.expiresAt)
    }
}
