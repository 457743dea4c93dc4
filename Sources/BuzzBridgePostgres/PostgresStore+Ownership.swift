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
        /// A move an operator asked for that the target node has not done yet.
        public var moveTo: String?
    }

    /// Every session's owner and the live nodes, by the database's clock.
    public func sessionOwners() async throws -> (owners: [SessionOwner], liveNodes: [String]) {
        let owners = try await all(
            """
            SELECT s.id, l.owner, l.expires_at, l.move_to, (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT
            FROM sessions s LEFT JOIN session_leases l ON l.session_id = s.id ORDER BY s.created_at, s.id
            """
        ) { row in
            let (id, owner, expiresAt) = (try row[0].decode(String.self), try row[1].decode(String?.self), try row[2].decode(Int64?.self))
            let (moveTo, now) = (try row[3].decode(String?.self), try row[4].decode(Int64.self))
            let live = expiresAt.map { $0 > now } ?? false
            return SessionOwner(
                session: SessionID(rawValue: id), owner: live ? owner : nil,
                until: live ? expiresAt.map(Timestamp.init(millisecondsSinceEpoch:)) : nil, moveTo: moveTo)
        }
        let nodes = try await all(
            "SELECT node_id FROM cluster_nodes WHERE alive_until > (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT ORDER BY node_id"
        ) { try $0[0].decode(String.self) }
        return (owners, nodes)
    }

    /// Asks the session's owner to hand it to `node`: the owner releases it at its next round and
    /// `node` takes it, if it is live (otherwise the request waits for it). Returns false when
    /// there is no such session.
    public func requestMove(_ session: SessionID, to node: String) async throws -> Bool {
        guard try await self.session(session) != nil else { return false }
        try await client.query(
            """
            INSERT INTO session_leases (session_id, move_to) VALUES (\(session.rawValue), \(node))
            ON CONFLICT (session_id) DO UPDATE SET move_to = EXCLUDED.move_to
            """, logger: logger)
        return true
    }
}
