import BuzzBridgeCore
import BuzzBridgeStorage
import PostgresNIO

/// What an operator sees and asks of session ownership (`buzzbridge sessions owners` and `move`).
extension PostgresStore {
    /// A session's owner as the database has it now.
    public struct SessionOwner: Sendable, Equatable {
        public var session: SessionID
        /// The node holding a live grant, `nil` when nobody does (free, released or expired).
        public var owner: String?
        /// Until when, by the database's clock.
        public var until: Timestamp?
        /// The node an operator moved the session to, which keeps it while it is live.
        public var pinnedTo: String?
    }

    /// Every session's owner and the live nodes, by the database's clock.
    public func sessionOwners() async throws -> (owners: [SessionOwner], liveNodes: [String]) {
        let owners = try await all(
            """
            SELECT s.id, l.owner, l.expires_at, l.pinned_to, (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT
            FROM sessions s LEFT JOIN session_leases l ON l.session_id = s.id ORDER BY s.created_at, s.id
            """
        ) { row in
            let (id, owner, expiresAt) = (try row[0].decode(String.self), try row[1].decode(String?.self), try row[2].decode(Int64?.self))
            let (pinnedTo, now) = (try row[3].decode(String?.self), try row[4].decode(Int64.self))
            let live = expiresAt.map { $0 > now } ?? false
            return SessionOwner(
                session: SessionID(rawValue: id), owner: live ? owner : nil,
                until: live ? expiresAt.map(Timestamp.init(millisecondsSinceEpoch:)) : nil, pinnedTo: pinnedTo)
        }
        let nodes = try await all(
            "SELECT node_id FROM cluster_nodes WHERE alive_until > (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT ORDER BY node_id"
        ) { try $0[0].decode(String.self) }
        return (owners, nodes)
    }

    /// Pins the session to `node` (`nil`: unpins it): its owner releases it at its next round and
    /// `node` takes it and keeps it while it is live (rebalancing leaves it there); while `node`
    /// is not live, the others serve the session as any other. Returns false when there is no
    /// such session.
    public func pin(_ session: SessionID, to node: String?) async throws -> Bool {
        guard try await self.session(session) != nil else { return false }
        try await client.query(
            """
            INSERT INTO session_leases (session_id, pinned_to) VALUES (\(session.rawValue), \(node))
            ON CONFLICT (session_id) DO UPDATE SET pinned_to = EXCLUDED.pinned_to
            """, logger: logger)
        return true
    }
}
