import BuzzBridgeCore
import BuzzBridgeStorage
import Logging
import PostgresNIO

/// The send queue of several nodes (``SendQueueStore``) in `send_queue` (migration 9), woken by
/// `NOTIFY` on ``PostgresStore/sendQueueChannel`` with the session's id as payload.
extension PostgresStore: SendQueueStore {
    /// The channel a queued send is announced on, after its transaction commits.
    public static let sendQueueChannel = "buzzbridge_send_queue"

    /// With leases only: a store serving one node owns every session and queues nothing.
    public var sendQueue: (any SendQueueStore)? { leases == nil ? nil : self }

    public func enqueue(_ message: Message, idempotency: IdempotencyTag?) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await Self.insertOutgoing(message, idempotency: idempotency, on: connection, logger: logger)
            try await connection.query(
                """
                INSERT INTO send_queue (message_id, session_id, queued_at)
                VALUES (\(message.id.rawValue), \(message.sessionID.rawValue), \(message.timestamp.millisecondsSinceEpoch))
                """,
                logger: logger)
            // Delivered to the listeners when (and only if) the transaction commits.
            try await connection.query("SELECT pg_notify(\(Self.sendQueueChannel), \(message.sessionID.rawValue))", logger: logger)
        }
    }

    public func queuedSessions(among sessions: Set<SessionID>) async throws -> Set<SessionID> {
        guard !sessions.isEmpty else { return [] }
        let ids = sessions.map(\.rawValue)
        return Set(
            try await all("SELECT DISTINCT session_id FROM send_queue WHERE session_id = ANY(\(ids))") {
                SessionID(rawValue: try $0[0].decode(String.self))
            })
    }

    public func claim(session: SessionID, token: Int64, limit: Int) async throws -> QueueClaim {
        try await client.withTransaction(logger: logger) { connection in
            var abandonedIDs: [String] = []
            for try await id in try await connection.query(
                """
                SELECT message_id FROM send_queue WHERE session_id = \(session.rawValue) AND claim_token < \(token)
                ORDER BY seq FOR UPDATE SKIP LOCKED
                """, logger: logger
            ).decode(String.self) {
                abandonedIDs.append(id)
            }
            var claimedIDs: [String] = []
            for try await id in try await connection.query(
                """
                UPDATE send_queue SET claim_token = \(token) WHERE seq IN (
                    SELECT seq FROM send_queue WHERE session_id = \(session.rawValue) AND claim_token IS NULL
                    ORDER BY seq LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                RETURNING message_id
                """, logger: logger
            ).decode(String.self) {
                claimedIDs.append(id)
            }
            let wanted = abandonedIDs + claimedIDs
            guard !wanted.isEmpty else { return QueueClaim(claimed: [], abandoned: []) }
            var byID: [String: Message] = [:]
            for try await row in try await connection.query(
                "SELECT \(unescaped: Self.messageColumns) FROM messages WHERE id = ANY(\(wanted)) AND session_id = \(session.rawValue)",
                logger: logger)
            {
                let message = try Message(row: row.makeRandomAccess())
                byID[message.id.rawValue] = message
            }
            return QueueClaim(claimed: claimedIDs.compactMap { byID[$0] }, abandoned: abandonedIDs.compactMap { byID[$0] })
        }
    }

    public func unclaim(_ message: MessageID, in session: SessionID) async throws {
        try await client.query(
            "UPDATE send_queue SET claim_token = NULL WHERE message_id = \(message.rawValue) AND session_id = \(session.rawValue)",
            logger: logger)
    }

    public func assign(externalID: String, to message: MessageID, in session: SessionID) async throws {
        try await client.query(
            "UPDATE messages SET external_id = \(externalID) WHERE id = \(message.rawValue) AND session_id = \(session.rawValue)",
            logger: logger)
    }

    public func finish(
        _ message: MessageID, in session: SessionID, as status: MessageStatus, at time: Timestamp, externalID: String?,
        announce: @escaping @Sendable (Message) -> [OutboxEvent]
    ) async throws -> Message? {
        let logger = logger
        let moved = try await client.withTransaction(logger: logger) { connection -> Message? in
            let moved = try await Self.advance(
                message, in: session, to: status, at: time, externalID: externalID, announce: announce, on: connection, logger: logger)
            try await connection.query("DELETE FROM send_queue WHERE message_id = \(message.rawValue)", logger: logger)
            return moved
        }
        if moved != nil { deliveryBell.ring() }
        return moved
    }

    public func listen(_ wake: @escaping @Sendable (SessionID) -> Void) async throws {
        try await client.withConnection { connection in
            try await connection.listen(on: Self.sendQueueChannel) { notifications in
                for try await notification in notifications {
                    wake(SessionID(rawValue: notification.payload))
                }
            }
        }
    }
}
