import BuzzBridgeCore
import Logging
import NIOCore
import SQLiteNIO

/// ``GatewayStore`` on an embedded SQLite file.
public final class SQLiteStore: GatewayStore {
    let database: SQLiteDatabase
    public let deliveryBell = DeliveryBell()

    /// Opens (creating and migrating if needed) the database at `path`.
    public static func open(path: String, readerCount: Int = 2, logger: Logger = Logger(label: "buzzbridge.sqlite")) async throws -> SQLiteStore {
        let database = try await SQLiteDatabase.open(path: path, readerCount: readerCount, logger: logger)
        let store = SQLiteStore(database: database)
        try await store.migrate()
        return store
    }

    private init(database: SQLiteDatabase) {
        self.database = database
    }

    private func migrate() async throws {
        try await database.transaction { tx in
            let version = try await tx.execute("PRAGMA user_version").first?.column("user_version")?.integer ?? 0
            for (index, statements) in Schema.migrations.enumerated() where index >= version {
                for statement in statements { try await tx.execute(statement) }
            }
            try await tx.execute("PRAGMA user_version = \(Schema.migrations.count)")
        }
    }

    public func close() async throws {
        try await database.close()
    }

    // MARK: Sessions

    public func createSession(_ session: Session) async throws {
        _ = try await database.write(
            """
            INSERT INTO sessions (id, kind, name, status, phone_number, connected_at, last_activity, disconnected_at, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [.text(session.id.rawValue), .text(session.kind.rawValue), .text(session.name), .text(session.status.rawValue),
             .optional(session.phoneNumber?.e164), .optional(session.connectedAt), .optional(session.lastActivity),
             .optional(session.disconnectedAt), .timestamp(session.createdAt)]
        )
    }

    public func session(_ id: SessionID) async throws -> Session? {
        try await database.read("SELECT * FROM sessions WHERE id = ?", [.text(id.rawValue)]).first.map(Session.init(row:))
    }

    public func sessions() async throws -> [Session] {
        try await database.read("SELECT * FROM sessions ORDER BY created_at, id").map(Session.init(row:))
    }

    public func updateSession(_ session: Session, events: [OutboxEvent]) async throws {
        try await database.transaction { tx in
            try await tx.execute(
                """
                UPDATE sessions SET name = ?, status = ?, phone_number = ?, connected_at = ?, last_activity = ?,
                    disconnected_at = ? WHERE id = ?
                """,
                [.text(session.name), .text(session.status.rawValue), .optional(session.phoneNumber?.e164),
                 .optional(session.connectedAt), .optional(session.lastActivity), .optional(session.disconnectedAt),
                 .text(session.id.rawValue)]
            )
            try await Self.record(events, in: tx)
        }
        if !events.isEmpty { deliveryBell.ring() }
    }

    // MARK: API keys

    public func createAPIKey(_ key: APIKeyRecord) async throws {
        _ = try await database.write(
            """
            INSERT INTO api_keys (id, session_id, secret_hash, label, created_at, scopes, requests_per_minute, expires_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [.text(key.id), .text(key.sessionID.rawValue), .blob(ByteBuffer(bytes: key.secretHash)), .optional(key.label), .timestamp(key.createdAt),
             .text(APIKeyScope.format(key.scopes)), key.requestsPerMinute.map { .integer($0) } ?? .null, .optional(key.expiresAt)]
        )
    }

    public func apiKey(id: String) async throws -> APIKeyRecord? {
        try await database.read("SELECT * FROM api_keys WHERE id = ?", [.text(id)]).first.map(APIKeyRecord.init(row:))
    }

    public func apiKeys(session: SessionID) async throws -> [APIKeyRecord] {
        try await database.read("SELECT * FROM api_keys WHERE session_id = ? ORDER BY created_at, id", [.text(session.rawValue)])
            .map(APIKeyRecord.init(row:))
    }

    public func revokeAPIKey(id: String, at time: Timestamp) async throws -> Bool {
        try await !database.write(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING id",
            [.timestamp(time), .text(id)]
        ).isEmpty
    }

    public func recordAPIKeyUse(id: String, at time: Timestamp) async throws {
        _ = try await database.write("UPDATE api_keys SET last_used_at = ? WHERE id = ?", [.timestamp(time), .text(id)])
    }

    // MARK: Messages

    public func insertMessage(_ message: Message, events: [OutboxEvent]) async throws -> Bool {
        let inserted = try await database.transaction { tx in
            let inserted = try await tx.execute(
                """
                INSERT INTO messages (id, session_id, external_id, direction, from_number, from_name, to_number, contact,
                    body, status, message_type, media_url, reply_to, timestamp, read_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (session_id, direction, external_id) WHERE external_id IS NOT NULL DO NOTHING
                RETURNING seq
                """,
                [.text(message.id.rawValue), .text(message.sessionID.rawValue), .optional(message.externalID),
                 .text(message.direction.rawValue), .text(message.from.e164), .optional(message.fromName),
                 .text(message.to.e164), .text(message.contact.e164), .text(message.body), .text(message.status.rawValue),
                 .text(message.type.rawValue), .optional(message.mediaURL), .optional(message.replyTo?.rawValue),
                 .timestamp(message.timestamp), .optional(message.readAt), .timestamp(message.timestamp)]
            )
            guard !inserted.isEmpty else { return false }
            try await Self.touchSession(message.sessionID, at: message.timestamp, in: tx)
            if message.direction == .incoming, let name = message.fromName, !name.isEmpty {
                try await tx.execute(
                    """
                    INSERT INTO contacts (session_id, phone, name, updated_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (session_id, phone) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at
                    """,
                    [.text(message.sessionID.rawValue), .text(message.from.e164), .text(name), .timestamp(message.timestamp)]
                )
            }
            try await Self.record(events, in: tx)
            return true
        }
        if inserted, !events.isEmpty { deliveryBell.ring() }
        return inserted
    }

    public func advanceMessage(
        _ id: MessageID, in session: SessionID, to status: MessageStatus, at time: Timestamp,
        externalID: String?, announce: @Sendable (Message) -> [OutboxEvent]
    ) async throws -> Message? {
        let allowedFrom = MessageStatus.allCases.filter { $0.canAdvance(to: status) }
        guard !allowedFrom.isEmpty else { return nil }
        let placeholders = Array(repeating: "?", count: allowedFrom.count).joined(separator: ", ")
        let advanced: Message? = try await database.transaction { tx in
            let rows = try await tx.execute(
                """
                UPDATE messages SET status = ?, updated_at = ?,
                    read_at = CASE WHEN ? = 'read' AND direction = 'incoming' THEN ? ELSE read_at END,
                    external_id = COALESCE(?, external_id)
                WHERE id = ? AND session_id = ? AND status IN (\(placeholders))
                RETURNING \(Self.messageColumns)
                """,
                [.text(status.rawValue), .timestamp(time), .text(status.rawValue), .timestamp(time), .optional(externalID),
                 .text(id.rawValue), .text(session.rawValue)] + allowedFrom.map { .text($0.rawValue) }
            )
            guard let row = rows.first else { return nil }
            let message = try Message(row: row)
            try await Self.touchSession(session, at: time, in: tx)
            try await Self.record(announce(message), in: tx)
            return message
        }
        if advanced != nil { deliveryBell.ring() }
        return advanced
    }

    public func message(_ id: MessageID, in session: SessionID) async throws -> Message? {
        try await database.read(
            "SELECT \(Self.messageColumns) FROM messages WHERE id = ? AND session_id = ?",
            [.text(id.rawValue), .text(session.rawValue)]
        ).first.map(Message.init(row:))
    }

    public func message(externalID: String, direction: MessageDirection, in session: SessionID) async throws -> Message? {
        try await database.read(
            "SELECT \(Self.messageColumns) FROM messages WHERE session_id = ? AND direction = ? AND external_id = ?",
            [.text(session.rawValue), .text(direction.rawValue), .text(externalID)]
        ).first.map(Message.init(row:))
    }

    public func messages(_ query: MessageQuery) async throws -> MessagePage {
        var conditions = ["session_id = ?"]
        var binds: [SQLiteData] = [.text(query.sessionID.rawValue)]
        if let contact = query.contact {
            conditions.append("contact = ?")
            binds.append(.text(contact.e164))
        }
        if query.status != .all {
            conditions.append("status = ?")
            binds.append(.text(query.status.rawValue))
        }
        if let from = query.from {
            conditions.append("timestamp >= ?")
            binds.append(.timestamp(from))
        }
        if let to = query.to {
            conditions.append("timestamp <= ?")
            binds.append(.timestamp(to))
        }
        let filter = conditions.joined(separator: " AND ")
        // The total rides along with the page as one uncorrelated subquery (SQLite evaluates it
        // once): from the trigger-kept counters when no date bound applies, by counting otherwise.
        let totalQuery: String
        var totalBinds: [SQLiteData]
        if query.from == nil, query.to == nil {
            totalBinds = [.text(query.sessionID.rawValue), .text(query.contact?.e164 ?? "")]
            var statusFilter = ""
            if query.status != .all {
                statusFilter = " AND status = ?"
                totalBinds.append(.text(query.status.rawValue))
            }
            totalQuery = "SELECT COALESCE(SUM(n), 0) FROM message_counts WHERE session_id = ? AND contact = ?\(statusFilter)"
        } else {
            totalQuery = "SELECT COUNT(*) FROM messages WHERE \(filter)"
            totalBinds = binds
        }
        let rows = try await database.read(
            """
            SELECT \(Self.messageColumns), (\(totalQuery)) AS total FROM messages WHERE \(filter)
            ORDER BY timestamp DESC, seq DESC LIMIT ? OFFSET ?
            """,
            totalBinds + binds + [.integer(query.limit), .integer(query.offset)]
        )
        // A page past the end has no row to carry the total.
        let totalRow = try await rows.isEmpty ? database.read("SELECT (\(totalQuery)) AS total", totalBinds).first : rows.first
        let total = totalRow?.column("total")?.integer ?? 0
        return MessagePage(messages: try rows.map(Message.init(row:)), total: total)
    }

    public func conversation(_ query: ConversationQuery) async throws -> ConversationPage {
        var binds: [SQLiteData] = [.text(query.sessionID.rawValue), .text(query.contact.e164)]
        var cursor = ""
        if let before = query.before {
            guard let anchor = try await database.read(
                "SELECT timestamp, seq FROM messages WHERE id = ? AND session_id = ? AND contact = ?",
                [.text(before.rawValue), .text(query.sessionID.rawValue), .text(query.contact.e164)]
            ).first else { throw StoreError.unknownCursor(before) }
            cursor = " AND (timestamp, seq) < (?, ?)"
            binds += [anchor.column("timestamp") ?? .null, anchor.column("seq") ?? .null]
        }
        let rows = try await database.read(
            """
            SELECT \(Self.messageColumns) FROM messages WHERE session_id = ? AND contact = ?\(cursor)
            ORDER BY timestamp DESC, seq DESC LIMIT ?
            """,
            binds + [.integer(query.limit + 1)]
        )
        let summary = try await database.read(
            """
            SELECT (SELECT COALESCE(SUM(n), 0) FROM message_counts WHERE session_id = ?1 AND contact = ?2) AS total,
                   (SELECT name FROM contacts WHERE session_id = ?1 AND phone = ?2) AS name
            """,
            [.text(query.sessionID.rawValue), .text(query.contact.e164)]
        ).first
        let page = try rows.prefix(query.limit).map(Message.init(row:))
        return ConversationPage(
            messages: page.reversed(),
            contactName: summary?.column("name")?.string,
            totalMessages: summary?.column("total")?.integer ?? 0,
            hasMore: rows.count > query.limit
        )
    }

    // MARK: Settings

    public func setting(_ key: String) async throws -> String? {
        try await database.read("SELECT value FROM settings WHERE key = ?", [.text(key)]).first?.column("value")?.string
    }

    public func setSetting(_ key: String, to value: String) async throws {
        _ = try await database.write(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [.text(key), .text(value)]
        )
    }

    // MARK: Rows

    static let messageColumns = """
        id, session_id, external_id, direction, from_number, from_name, to_number, body, status, message_type, \
        media_url, reply_to, timestamp, read_at
        """

    /// Every message change is session activity; kept in the change's own transaction.
    private static func touchSession(_ id: SessionID, at time: Timestamp, in tx: WriteTransaction) async throws {
        try await tx.execute(
            "UPDATE sessions SET last_activity = ? WHERE id = ? AND (last_activity IS NULL OR last_activity < ?)",
            [.timestamp(time), .text(id.rawValue), .timestamp(time)]
        )
    }

    private static func record(_ events: [OutboxEvent], in tx: WriteTransaction) async throws {
        for event in events {
            let rows = try await tx.execute(
                "INSERT INTO events (session_id, type, payload, created_at) VALUES (?, ?, ?, ?) RETURNING seq",
                [.text(event.sessionID.rawValue), .text(event.type), .blob(ByteBuffer(bytes: event.payload)), .timestamp(event.createdAt)]
            )
            guard let seq = rows.first?.column("seq")?.integer else { throw StoreError.corruptRow("event without seq") }
            try await queueDeliveries(of: event, seq: seq, in: tx)
        }
    }
}

extension SQLiteData {
    static func timestamp(_ value: Timestamp) -> SQLiteData { .integer(Int(value.millisecondsSinceEpoch)) }

    static func optional(_ value: String?) -> SQLiteData { value.map(SQLiteData.text) ?? .null }

    static func optional(_ value: Timestamp?) -> SQLiteData { value.map(SQLiteData.timestamp) ?? .null }
}

extension SQLiteRow {
    func required(_ column: String) throws -> String {
        guard let value = self.column(column)?.string else { throw StoreError.corruptRow("missing \(column)") }
        return value
    }

    func timestamp(_ column: String) -> Timestamp? {
        guard let data = self.column(column), case .integer(let value) = data else { return nil }
        return Timestamp(millisecondsSinceEpoch: Int64(value))
    }

    func phone(_ column: String) throws -> PhoneNumber {
        guard let number = PhoneNumber(try required(column)) else { throw StoreError.corruptRow("bad phone in \(column)") }
        return number
    }

    func value<T: RawRepresentable>(_ column: String) throws -> T where T.RawValue == String {
        guard let value = T(rawValue: try required(column)) else { throw StoreError.corruptRow("bad value in \(column)") }
        return value
    }
}

extension Session {
    init(row: SQLiteRow) throws {
        self.init(
            id: SessionID(rawValue: try row.required("id")),
            kind: try row.value("kind"),
            name: try row.required("name"),
            status: try row.value("status"),
            phoneNumber: row.column("phone_number")?.string.flatMap { PhoneNumber($0) },
            connectedAt: row.timestamp("connected_at"),
            lastActivity: row.timestamp("last_activity"),
            disconnectedAt: row.timestamp("disconnected_at"),
            createdAt: row.timestamp("created_at") ?? Timestamp(millisecondsSinceEpoch: 0)
        )
    }
}

extension APIKeyRecord {
    init(row: SQLiteRow) throws {
        guard case .blob(var buffer) = row.column("secret_hash") else { throw StoreError.corruptRow("missing secret_hash") }
        guard let scopes = row.column("scopes")?.string.flatMap(APIKeyScope.parseList) else { throw StoreError.corruptRow("api key scopes") }
        self.init(
            id: try row.required("id"),
            sessionID: SessionID(rawValue: try row.required("session_id")),
            secretHash: buffer.readBytes(length: buffer.readableBytes) ?? [],
            label: row.column("label")?.string,
            createdAt: row.timestamp("created_at") ?? Timestamp(millisecondsSinceEpoch: 0),
            lastUsedAt: row.timestamp("last_used_at"),
            revokedAt: row.timestamp("revoked_at"),
            scopes: scopes,
            requestsPerMinute: row.column("requests_per_minute")?.integer,
            expiresAt: row.timestamp("expires_at")
        )
    }
}

extension Message {
    init(row: SQLiteRow) throws {
        self.init(
            id: MessageID(rawValue: try row.required("id")),
            sessionID: SessionID(rawValue: try row.required("session_id")),
            externalID: row.column("external_id")?.string,
            direction: try row.value("direction"),
            from: try row.phone("from_number"),
            fromName: row.column("from_name")?.string,
            to: try row.phone("to_number"),
            body: try row.required("body"),
            status: try row.value("status"),
            timestamp: row.timestamp("timestamp") ?? Timestamp(millisecondsSinceEpoch: 0),
            type: try row.value("message_type"),
            mediaURL: row.column("media_url")?.string,
            replyTo: row.column("reply_to")?.string.map(MessageID.init(rawValue:)),
            readAt: row.timestamp("read_at")
        )
    }
}
