import BuzzBridgeCore
import BuzzBridgeStorage
import Logging
import NIOCore
import NIOPosix
import PostgresNIO

/// ``GatewayStore`` on PostgreSQL, through postgres-nio's connection pool.
///
/// Same contract as ``SQLiteStore``: every change and the outbox events that announce it are one
/// transaction; an incoming message WhatsApp delivers twice is stored once; a status only moves
/// forward. Migrations run at open under an advisory lock, so several nodes starting together
/// apply each one once.
public final class PostgresStore: GatewayStore {
    let client: PostgresClient
    private let runner: Task<Void, Never>
    let logger: Logger
    /// The threads protocol-state transactions wait on (see ``readProtocolState(session:_:)``).
    let protocolThreads: NIOThreadPool
    /// Admits as many protocol-state transactions as there are threads for them.
    let protocolGate = ProtocolTransactionGate(limit: PostgresStore.protocolThreadCount)
    public let deliveryBell = DeliveryBell()
    /// This node's session leases, when the store was opened with them; every protocol write then
    /// needs the session's current fencing token. `nil`: one node, writes unfenced.
    public let leases: SessionLeases?

    /// Connects to `url` (`postgres://user:password@host:port/database`) and migrates the schema.
    /// With `leases`, this store is one of several nodes: it writes a session's protocol state
    /// only while it holds the session's lease (``SessionLeases``). Every node sharing a database
    /// must then be opened with leases: a store without them does not check the fence.
    public static func open(
        url: String, logger: Logger = Logger(label: "buzzbridge.postgres"), leases: SessionLeasePolicy? = nil
    ) async throws -> PostgresStore {
        let store = PostgresStore(configuration: try PostgresURL.configuration(url), logger: logger, leases: leases)
        // Lets the pool's run loop start before the first lease (postgres-nio warns otherwise).
        await Task.yield()
        do {
            try await store.migrate()
        } catch {
            try? await store.close()
            throw error
        }
        return store
    }

    private init(configuration: PostgresClient.Configuration, logger: Logger, leases: SessionLeasePolicy?) {
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        self.leases = leases.map { SessionLeases(policy: $0, client: client, logger: logger) }
        self.runner = Task { await client.run() }
        protocolThreads = NIOThreadPool(numberOfThreads: Self.protocolThreadCount)
        protocolThreads.start()
    }

    /// Protocol-state transactions in flight at once; each holds a thread and a connection.
    static let protocolThreadCount = 8

    public func close() async throws {
        try? await protocolThreads.shutdownGracefully()
        runner.cancel()
        await runner.value
    }

    // MARK: Schema

    /// Taken for the whole migration, so that nodes starting at once migrate one after the other.
    private static let migrationLock: Int64 = 0x6275_7a7a_6272_6964

    private func migrate() async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)", logger: logger)
            var applied = 0
            for try await version in try await connection.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", logger: logger)
                .decode(Int.self)
            {
                applied = version
            }
            guard applied <= PostgresSchema.migrations.count else {
                throw StoreError.schemaTooNew(found: applied, supported: PostgresSchema.migrations.count)
            }
            for (index, statements) in PostgresSchema.migrations.enumerated() where index >= applied {
                for statement in statements { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
                try await connection.query(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (\(index + 1), \(Timestamp.now().millisecondsSinceEpoch))",
                    logger: logger)
            }
        }
    }

    public func sharedRateLimitCounter(named name: String, window: Double) -> (any RateLimitCounter)? {
        PostgresRateLimitCounter(client: client, logger: logger, name: name, window: window)
    }

    public func schemaStatus() async throws -> SchemaStatus {
        let applied = try await first("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") { try $0[0].decode(Int.self) } ?? 0
        return SchemaStatus(applied: applied, known: PostgresSchema.migrations.count)
    }

    // MARK: Sessions

    public func createSession(_ session: Session) async throws {
        try await client.query(
            """
            INSERT INTO sessions (id, kind, name, status, phone_number, connected_at, last_activity, disconnected_at, created_at,
                lid, push_name, platform, disconnect_reason, connection)
            VALUES (\(session.id.rawValue), \(session.kind.rawValue), \(Bytea(session.name)), \(session.status.rawValue),
                \(session.phoneNumber?.e164), \(session.connectedAt?.millisecondsSinceEpoch), \(session.lastActivity?.millisecondsSinceEpoch),
                \(session.disconnectedAt?.millisecondsSinceEpoch), \(session.createdAt.millisecondsSinceEpoch), \(session.lid),
                \(session.pushName.map(Bytea.init)), \(session.platform), \(session.disconnectReason?.rawValue),
                \(session.connection?.rawValue))
            """,
            logger: logger)
    }

    public func session(_ id: SessionID) async throws -> Session? {
        try await first("SELECT * FROM sessions WHERE id = \(id.rawValue)", Session.init(row:))
    }

    public func sessions() async throws -> [Session] {
        try await all("SELECT * FROM sessions ORDER BY created_at, id", Session.init(row:))
    }

    public func updateSession(_ session: Session, events: [OutboxEvent]) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query(
                """
                UPDATE sessions SET name = \(Bytea(session.name)), status = \(session.status.rawValue),
                    phone_number = \(session.phoneNumber?.e164), connected_at = \(session.connectedAt?.millisecondsSinceEpoch),
                    last_activity = \(session.lastActivity?.millisecondsSinceEpoch),
                    disconnected_at = \(session.disconnectedAt?.millisecondsSinceEpoch), lid = \(session.lid),
                    push_name = \(session.pushName.map(Bytea.init)), platform = \(session.platform),
                    disconnect_reason = \(session.disconnectReason?.rawValue), connection = \(session.connection?.rawValue)
                WHERE id = \(session.id.rawValue)
                """,
                logger: logger)
            try await Self.record(events, on: connection, logger: logger)
        }
        if !events.isEmpty { deliveryBell.ring() }
    }

    public func updateSessionNames(_ id: SessionID, name: String, pushName: String?) async throws -> Session? {
        try await first(
            "UPDATE sessions SET name = \(Bytea(name)), push_name = \(pushName.map(Bytea.init)) WHERE id = \(id.rawValue) RETURNING *",
            Session.init(row:))
    }

    // MARK: API keys

    public func createAPIKey(_ key: APIKeyRecord) async throws {
        try await client.query(
            """
            INSERT INTO api_keys (id, session_id, secret_hash, label, created_at, scopes, requests_per_minute, expires_at)
            VALUES (\(key.id), \(key.sessionID.rawValue), \(Bytea(key.secretHash)), \(key.label), \(key.createdAt.millisecondsSinceEpoch),
                \(APIKeyScope.format(key.scopes)), \(key.requestsPerMinute), \(key.expiresAt?.millisecondsSinceEpoch))
            """,
            logger: logger)
    }

    public func apiKey(id: String) async throws -> APIKeyRecord? {
        try await first("SELECT * FROM api_keys WHERE id = \(id)", APIKeyRecord.init(row:))
    }

    public func apiKeys(session: SessionID) async throws -> [APIKeyRecord] {
        try await all("SELECT * FROM api_keys WHERE session_id = \(session.rawValue) ORDER BY created_at, id", APIKeyRecord.init(row:))
    }

    public func revokeAPIKey(id: String, at time: Timestamp) async throws -> Bool {
        try await first(
            "UPDATE api_keys SET revoked_at = \(time.millisecondsSinceEpoch) WHERE id = \(id) AND revoked_at IS NULL RETURNING id"
        ) { _ in true } ?? false
    }

    public func recordAPIKeyUse(id: String, at time: Timestamp) async throws {
        try await client.query("UPDATE api_keys SET last_used_at = \(time.millisecondsSinceEpoch) WHERE id = \(id)", logger: logger)
    }

    // MARK: Messages

    public func insertMessage(_ message: Message, events: [OutboxEvent]) async throws -> Bool {
        let inserted = try await client.withTransaction(logger: logger) { connection -> Bool in
            let rows = try await connection.query(
                """
                INSERT INTO messages (id, session_id, external_id, direction, from_number, from_name, to_number, contact,
                    body, status, message_type, media_url, reply_to, timestamp, read_at, updated_at,
                    lid, chat_jid, sender_jid, group_id, group_subject, \(unescaped: Self.mediaColumns))
                VALUES (\(message.id.rawValue), \(message.sessionID.rawValue), \(message.externalID), \(message.direction.rawValue),
                    \(message.from.e164), \(message.fromName.map(Bytea.init)), \(message.to.e164), \(message.contact.e164),
                    \(Bytea(message.body)), \(message.status.rawValue), \(message.type.rawValue), \(message.mediaURL),
                    \(message.replyTo?.rawValue), \(message.timestamp.millisecondsSinceEpoch), \(message.readAt?.millisecondsSinceEpoch),
                    \(message.timestamp.millisecondsSinceEpoch),
                    \(message.lid), \(message.chatJID), \(message.senderJID), \(message.group?.id), \(message.group?.subject.map(Bytea.init)),
                    \(message.media?.mimeType), \(message.media?.fileName.map(Bytea.init)), \(message.media?.size.map(Int64.init)),
                    \(message.media?.width.map(Int64.init)), \(message.media?.height.map(Int64.init)), \(message.media?.status.rawValue),
                    \(message.media?.blobHash), \(message.media?.downloadSource))
                ON CONFLICT (session_id, direction, external_id) WHERE external_id IS NOT NULL DO UPDATE SET
                    from_number = excluded.from_number, from_name = excluded.from_name, to_number = excluded.to_number,
                    contact = excluded.contact, body = excluded.body, status = excluded.status, message_type = excluded.message_type,
                    media_url = excluded.media_url, reply_to = excluded.reply_to, updated_at = excluded.updated_at,
                    lid = excluded.lid, chat_jid = excluded.chat_jid, sender_jid = excluded.sender_jid,
                    group_id = excluded.group_id, group_subject = excluded.group_subject,
                    media_mime_type = excluded.media_mime_type, media_file_name = excluded.media_file_name,
                    media_size = excluded.media_size, media_width = excluded.media_width, media_height = excluded.media_height,
                    media_status = excluded.media_status, media_blob = excluded.media_blob, media_source = excluded.media_source
                WHERE messages.status = 'undecryptable' AND excluded.status <> 'undecryptable'
                RETURNING seq
                """,
                logger: logger
            ).collect()
            guard !rows.isEmpty else { return false }
            try await Self.touchSession(message.sessionID, at: message.timestamp, on: connection, logger: logger)
            if message.direction == .incoming, let name = message.fromName, !name.isEmpty {
                try await connection.query(
                    """
                    INSERT INTO contacts (session_id, phone, name, updated_at)
                    VALUES (\(message.sessionID.rawValue), \(message.from.e164), \(Bytea(name)), \(message.timestamp.millisecondsSinceEpoch))
                    ON CONFLICT (session_id, phone) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at
                    """,
                    logger: logger)
            }
            try await Self.record(events, on: connection, logger: logger)
            return true
        }
        if inserted, !events.isEmpty { deliveryBell.ring() }
        return inserted
    }

    public func insertMessage(_ message: Message, idempotency: IdempotencyTag) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await Self.insertOutgoing(message, idempotency: idempotency, on: connection, logger: logger)
        }
    }

    /// Inserts an outgoing message a request made, with its `Idempotency-Key` when it had one,
    /// and moves the session's last activity on.
    static func insertOutgoing(_ message: Message, idempotency: IdempotencyTag?, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO messages (id, session_id, external_id, direction, from_number, from_name, to_number, contact,
                body, status, message_type, media_url, reply_to, timestamp, read_at, updated_at, idempotency_key, request_fingerprint,
                \(unescaped: Self.mediaColumns))
            VALUES (\(message.id.rawValue), \(message.sessionID.rawValue), \(message.externalID), \(message.direction.rawValue),
                \(message.from.e164), \(message.fromName.map(Bytea.init)), \(message.to.e164), \(message.contact.e164),
                \(Bytea(message.body)), \(message.status.rawValue), \(message.type.rawValue), \(message.mediaURL),
                \(message.replyTo?.rawValue), \(message.timestamp.millisecondsSinceEpoch), \(message.readAt?.millisecondsSinceEpoch),
                \(message.timestamp.millisecondsSinceEpoch), \(idempotency?.key), \(idempotency?.fingerprint),
                \(message.media?.mimeType), \(message.media?.fileName.map(Bytea.init)), \(message.media?.size.map(Int64.init)),
                \(message.media?.width.map(Int64.init)), \(message.media?.height.map(Int64.init)), \(message.media?.status.rawValue),
                \(message.media?.blobHash), \(message.media?.downloadSource))
            """,
            logger: logger)
        try await touchSession(message.sessionID, at: message.timestamp, on: connection, logger: logger)
    }

    public func idempotentSend(key: String, in session: SessionID) async throws -> IdempotentSend? {
        try await first(
            """
            SELECT \(unescaped: Self.messageColumns), request_fingerprint, answer_status, answer_body
            FROM messages WHERE session_id = \(session.rawValue) AND idempotency_key = \(key)
            """
        ) { row in
            IdempotentSend(
                message: try Message(row: row), fingerprint: try row[Self.messageColumnCount].decode(String?.self) ?? "",
                answerStatus: try row[Self.messageColumnCount + 1].decode(Int?.self),
                answerBody: try row[Self.messageColumnCount + 2].decode(ByteBuffer?.self).map { Array($0.readableBytesView) }
            )
        }
    }

    public func recordAnswer(status: Int, body: [UInt8], forIdempotencyKey key: String, in session: SessionID) async throws {
        try await client.query(
            """
            UPDATE messages SET answer_status = \(status), answer_body = \(Bytea(body))
            WHERE session_id = \(session.rawValue) AND idempotency_key = \(key)
            """,
            logger: logger)
    }

    public func releaseIdempotencyKey(_ key: String, in session: SessionID) async throws {
        try await client.query(
            "UPDATE messages SET idempotency_key = NULL WHERE session_id = \(session.rawValue) AND idempotency_key = \(key)", logger: logger)
    }

    public func advanceMessage(
        _ id: MessageID, in session: SessionID, to status: MessageStatus, at time: Timestamp,
        externalID: String?, announce: @escaping @Sendable (Message) -> [OutboxEvent]
    ) async throws -> Message? {
        guard MessageStatus.allCases.contains(where: { $0.canAdvance(to: status) }) else { return nil }
        let logger = logger
        let advanced = try await client.withTransaction(logger: logger) { connection -> Message? in
            try await Self.advance(id, in: session, to: status, at: time, externalID: externalID, announce: announce, on: connection, logger: logger)
        }
        if advanced != nil { deliveryBell.ring() }
        return advanced
    }

    /// ``advanceMessage(_:in:to:at:externalID:announce:)`` inside a transaction under way.
    static func advance(
        _ id: MessageID, in session: SessionID, to status: MessageStatus, at time: Timestamp, externalID: String?,
        announce: @Sendable (Message) -> [OutboxEvent], on connection: PostgresConnection, logger: Logger
    ) async throws -> Message? {
        let allowedFrom = MessageStatus.allCases.filter { $0.canAdvance(to: status) }.map(\.rawValue)
        guard !allowedFrom.isEmpty else { return nil }
        var moved: Message?
        let rows = try await connection.query(
            """
            UPDATE messages SET status = \(status.rawValue), updated_at = \(time.millisecondsSinceEpoch),
                read_at = CASE WHEN \(status.rawValue) = 'read' AND direction = 'incoming' THEN \(time.millisecondsSinceEpoch) ELSE read_at END,
                external_id = COALESCE(\(externalID), external_id)
            WHERE id = \(id.rawValue) AND session_id = \(session.rawValue) AND status = ANY(\(allowedFrom))
            RETURNING \(unescaped: Self.messageColumns)
            """,
            logger: logger)
        for try await row in rows { moved = try Message(row: row.makeRandomAccess()) }
        guard let message = moved else {
            // Already further along (a receipt overtook the send's own record): the status
            // stays, but WhatsApp's id for the message must not be lost.
            if let externalID {
                try await connection.query(
                    """
                    UPDATE messages SET external_id = COALESCE(external_id, \(externalID))
                    WHERE id = \(id.rawValue) AND session_id = \(session.rawValue)
                    """,
                    logger: logger)
            }
            return nil
        }
        try await touchSession(session, at: time, on: connection, logger: logger)
        try await record(announce(message), on: connection, logger: logger)
        return message
    }

    public func updateMedia(
        of id: MessageID, in session: SessionID, to media: MediaAttachment, announce: @escaping @Sendable (Message) -> [OutboxEvent]
    ) async throws -> Message? {
        let logger = logger
        let updated = try await client.withTransaction(logger: logger) { connection -> Message? in
            var changed: Message?
            let rows = try await connection.query(
                """
                UPDATE messages SET media_mime_type = \(media.mimeType), media_file_name = \(media.fileName.map(Bytea.init)),
                    media_size = \(media.size.map(Int64.init)), media_width = \(media.width.map(Int64.init)),
                    media_height = \(media.height.map(Int64.init)), media_status = \(media.status.rawValue), media_blob = \(media.blobHash),
                    media_source = \(media.downloadSource)
                WHERE id = \(id.rawValue) AND session_id = \(session.rawValue) AND media_status IS NOT NULL
                RETURNING \(unescaped: Self.messageColumns)
                """,
                logger: logger)
            for try await row in rows { changed = try Message(row: row.makeRandomAccess()) }
            guard let message = changed else { return nil }
            try await Self.record(announce(message), on: connection, logger: logger)
            return message
        }
        if updated != nil { deliveryBell.ring() }
        return updated
    }

    public func messagesAwaitingMedia() async throws -> [Message] {
        try await all(
            """
            SELECT \(unescaped: Self.messageColumns) FROM messages
            WHERE media_source IS NOT NULL AND media_status IN ('pending', 'downloading') ORDER BY timestamp, id
            """, Message.init(row:))
    }

    public func message(mediaOf id: MessageID) async throws -> Message? {
        try await first(
            "SELECT \(unescaped: Self.messageColumns) FROM messages WHERE id = \(id.rawValue) AND media_status IS NOT NULL", Message.init(row:))
    }

    public func message(_ id: MessageID, in session: SessionID) async throws -> Message? {
        try await first(
            "SELECT \(unescaped: Self.messageColumns) FROM messages WHERE id = \(id.rawValue) AND session_id = \(session.rawValue)",
            Message.init(row:))
    }

    public func message(externalID: String, direction: MessageDirection, in session: SessionID) async throws -> Message? {
        try await first(
            """
            SELECT \(unescaped: Self.messageColumns) FROM messages
            WHERE session_id = \(session.rawValue) AND direction = \(direction.rawValue) AND external_id = \(externalID)
            """,
            Message.init(row:))
    }

    public func messages(_ query: MessageQuery) async throws -> MessagePage {
        var filter = PostgresFilter()
        try filter.add("session_id = ", query.sessionID.rawValue)
        if let contact = query.contact { try filter.add("contact = ", contact.e164) }
        if query.status != .all { try filter.add("status = ", query.status.rawValue) }
        if let from = query.from { try filter.add("timestamp >= ", from.millisecondsSinceEpoch) }
        if let to = query.to { try filter.add("timestamp <= ", to.millisecondsSinceEpoch) }
        // Page and total in one statement, so both come from the same snapshot.
        var page = filter
        let limit = page.bind(query.limit)
        let offset = page.bind(query.offset)
        let sql = """
            SELECT \(Self.messageColumns), COUNT(*) OVER () FROM messages WHERE \(filter.sql)
            ORDER BY timestamp DESC, seq DESC LIMIT \(limit) OFFSET \(offset)
            """
        var total = 0
        let messages = try await all(PostgresQuery(unsafeSQL: sql, binds: page.binds)) { row in
            total = try row[Self.messageColumnCount].decode(Int.self)
            return try Message(row: row)
        }
        // A page past the end has no row to carry the total.
        if messages.isEmpty {
            total =
                try await first(PostgresQuery(unsafeSQL: "SELECT COUNT(*) FROM messages WHERE \(filter.sql)", binds: filter.binds)) {
                    try $0[0].decode(Int.self)
                } ?? 0
        }
        return MessagePage(messages: messages, total: total)
    }

    public func conversation(_ query: ConversationQuery) async throws -> ConversationPage {
        let session = query.sessionID.rawValue
        let contact = query.contact.e164
        if let before = query.before {
            let anchor = try await first(
                "SELECT 1 FROM messages WHERE id = \(before.rawValue) AND session_id = \(session) AND contact = \(contact)"
            ) { _ in true }
            guard anchor != nil else { throw StoreError.unknownCursor(before) }
        }
        let cursor: PostgresQuery =
            if let before = query.before {
                """
                SELECT \(unescaped: Self.messageColumns) FROM messages WHERE session_id = \(session) AND contact = \(contact)
                    AND (timestamp, seq) < (SELECT timestamp, seq FROM messages WHERE id = \(before.rawValue))
                ORDER BY timestamp DESC, seq DESC LIMIT \(query.limit + 1)
                """
            } else {
                """
                SELECT \(unescaped: Self.messageColumns) FROM messages WHERE session_id = \(session) AND contact = \(contact)
                ORDER BY timestamp DESC, seq DESC LIMIT \(query.limit + 1)
                """
            }
        let rows = try await all(cursor, Message.init(row:))
        let summary = try await first(
            """
            SELECT (SELECT COUNT(*) FROM messages WHERE session_id = \(session) AND contact = \(contact)),
                (SELECT name FROM contacts WHERE session_id = \(session) AND phone = \(contact))
            """
        ) { row in
            (total: try row[0].decode(Int.self), name: try row[1].decode(ByteBuffer?.self).map { String(buffer: $0) })
        }
        return ConversationPage(
            messages: rows.prefix(query.limit).reversed(), contactName: summary?.name, totalMessages: summary?.total ?? 0,
            hasMore: rows.count > query.limit
        )
    }

    // MARK: Settings

    public func setting(_ key: String) async throws -> String? {
        try await first("SELECT value FROM settings WHERE key = \(key)") { try $0[0].decode(String.self) }
    }

    public func setSetting(_ key: String, to value: String) async throws {
        try await client.query(
            "INSERT INTO settings (key, value) VALUES (\(key), \(value)) ON CONFLICT (key) DO UPDATE SET value = excluded.value", logger: logger)
    }

    // MARK: Helpers

    /// The columns `Message(row:)` reads, by position.
    static let messageColumns = """
        id, session_id, external_id, direction, from_number, from_name, to_number, body, status, message_type, \
        media_url, reply_to, timestamp, read_at, lid, chat_jid, sender_jid, group_id, group_subject, \(mediaColumns)
        """
    static let messageColumnCount = 27
    /// A media message's file, in columns 19 to 25 of ``messageColumns``; all null for text.
    static let mediaColumns = "media_mime_type, media_file_name, media_size, media_width, media_height, media_status, media_blob, media_source"

    func all<T>(_ query: PostgresQuery, _ decode: (PostgresRandomAccessRow) throws -> T) async throws -> [T] {
        var values: [T] = []
        for try await row in try await client.query(query, logger: logger) { values.append(try decode(row.makeRandomAccess())) }
        return values
    }

    func first<T>(_ query: PostgresQuery, _ decode: (PostgresRandomAccessRow) throws -> T) async throws -> T? {
        try await all(query, decode).first
    }

    /// Every message change is session activity; kept in the change's own transaction.
    static func touchSession(_ id: SessionID, at time: Timestamp, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            UPDATE sessions SET last_activity = \(time.millisecondsSinceEpoch)
            WHERE id = \(id.rawValue) AND (last_activity IS NULL OR last_activity < \(time.millisecondsSinceEpoch))
            """,
            logger: logger)
    }

    /// Stores each event that some active endpoint of its session subscribes to, with one
    /// delivery per such endpoint, as ``SQLiteStore`` does: an event nobody subscribes to is not
    /// stored (endpoints added later receive later events only).
    static func record(_ events: [OutboxEvent], on connection: PostgresConnection, logger: Logger) async throws {
        for event in events {
            let now = Timestamp.now().millisecondsSinceEpoch
            try await connection.query(
                """
                WITH subscribed AS (
                    SELECT id, session_id FROM webhook_endpoints
                    WHERE session_id = \(event.sessionID.rawValue) AND disabled_at IS NULL
                        AND (events IS NULL OR \(event.type) = ANY(string_to_array(events, ',')))
                ), event AS (
                    INSERT INTO events (session_id, type, payload, created_at)
                    SELECT \(event.sessionID.rawValue), \(event.type), \(Bytea(event.payload)), \(event.createdAt.millisecondsSinceEpoch)
                    WHERE EXISTS (SELECT 1 FROM subscribed)
                    RETURNING seq
                )
                INSERT INTO webhook_deliveries (id, event_seq, endpoint_id, session_id, conversation, state, next_attempt_at, created_at, updated_at)
                SELECT 'dlv_' || substr(md5(gen_random_uuid()::text), 1, 24), event.seq, subscribed.id, subscribed.session_id, \(event.conversation),
                    'pending', \(now), \(now), \(now)
                FROM event CROSS JOIN subscribed
                """,
                logger: logger)
        }
    }
}
