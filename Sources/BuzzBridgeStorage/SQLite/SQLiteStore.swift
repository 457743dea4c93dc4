import BuzzBridgeCore
import Foundation
import GRDB

/// ``GatewayStore`` on an embedded SQLite file.
public final class SQLiteStore: GatewayStore {
    let database: SQLiteDatabase
    public let deliveryBell = DeliveryBell()

    /// Opens (creating and migrating if needed) the database at `path`.
    /// `walRestartPages`: the WAL is started over once it holds this many 4 KiB pages (16 MB by
    /// default); tests make it small.
    public static func open(path: String, readerCount: Int = 4, walRestartPages: Int = 4096) async throws -> SQLiteStore {
        let database = try SQLiteDatabase.open(path: path, readerCount: readerCount, walRestartPages: walRestartPages)
        let store = SQLiteStore(database: database)
        try await store.migrate()
        return store
    }

    private init(database: SQLiteDatabase) {
        self.database = database
    }

    private func migrate() async throws {
        try await database.write { db in
            let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
            guard version <= Schema.migrations.count else { throw StoreError.schemaTooNew(found: version, supported: Schema.migrations.count) }
            for (index, statements) in Schema.migrations.enumerated() where index >= version {
                for statement in statements { try db.execute(sql: statement) }
            }
            try db.execute(sql: "PRAGMA user_version = \(Schema.migrations.count)")
        }
    }

    public func close() async throws {
        try database.close()
    }

    public func schemaStatus() async throws -> SchemaStatus {
        let applied = try database.read { db in try Int.fetchOne(db.cachedStatement(sql: "PRAGMA user_version")) ?? 0 }
        return SchemaStatus(applied: applied, known: Schema.migrations.count)
    }

    // MARK: Sessions

    public func createSession(_ session: Session) async throws {
        try await database.write { db in
            try db.run(
                """
                INSERT INTO sessions (id, kind, name, status, phone_number, connected_at, last_activity, disconnected_at, created_at,
                    lid, push_name, platform, disconnect_reason, connection)
                VALUES (?, ?, CAST(? AS TEXT), ?, ?, ?, ?, ?, ?, ?, CAST(? AS TEXT), ?, ?, ?)
                """,
                [
                    session.id.rawValue, session.kind.rawValue, IntactText.argument(session.name), session.status.rawValue, session.phoneNumber?.e164,
                    session.connectedAt?.stored, session.lastActivity?.stored, session.disconnectedAt?.stored, session.createdAt.stored,
                    session.lid, IntactText.argument(session.pushName), session.platform, session.disconnectReason?.rawValue,
                    session.connection?.rawValue,
                ]
            )
        }
    }

    public func session(_ id: SessionID) async throws -> Session? {
        try database.read { db in
            try db.rows("SELECT * FROM sessions WHERE id = ?", [id.rawValue], Session.init(row:)).first
        }
    }

    public func sessions() async throws -> [Session] {
        try database.read { db in
            try db.rows("SELECT * FROM sessions ORDER BY created_at, id", [], Session.init(row:))
        }
    }

    public func updateSession(_ session: Session, events: [OutboxEvent]) async throws {
        try await database.write { db in
            try db.run(
                """
                UPDATE sessions SET name = CAST(? AS TEXT), status = ?, phone_number = ?, connected_at = ?, last_activity = ?,
                    disconnected_at = ?, lid = ?, push_name = CAST(? AS TEXT), platform = ?, disconnect_reason = ?, connection = ? WHERE id = ?
                """,
                [
                    IntactText.argument(session.name), session.status.rawValue, session.phoneNumber?.e164, session.connectedAt?.stored,
                    session.lastActivity?.stored, session.disconnectedAt?.stored, session.lid, IntactText.argument(session.pushName),
                    session.platform, session.disconnectReason?.rawValue, session.connection?.rawValue, session.id.rawValue,
                ]
            )
            try Self.record(events, in: db)
        }
        if !events.isEmpty { deliveryBell.ring() }
    }

    public func updateSessionNames(_ id: SessionID, name: String, pushName: String?) async throws -> Session? {
        try await database.write { db in
            try db.rows(
                "UPDATE sessions SET name = CAST(? AS TEXT), push_name = CAST(? AS TEXT) WHERE id = ? RETURNING *",
                [IntactText.argument(name), IntactText.argument(pushName), id.rawValue], Session.init(row:)
            ).first
        }
    }

    // MARK: API keys

    public func createAPIKey(_ key: APIKeyRecord) async throws {
        try await database.write { db in
            try db.run(
                """
                INSERT INTO api_keys (id, session_id, secret_hash, label, created_at, scopes, requests_per_minute, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    key.id, key.sessionID.rawValue, Data(key.secretHash), key.label, key.createdAt.stored,
                    APIKeyScope.format(key.scopes), key.requestsPerMinute, key.expiresAt?.stored,
                ]
            )
        }
    }

    public func apiKey(id: String) async throws -> APIKeyRecord? {
        try database.read { db in
            try db.rows("SELECT * FROM api_keys WHERE id = ?", [id], APIKeyRecord.init(row:)).first
        }
    }

    public func apiKeys(session: SessionID) async throws -> [APIKeyRecord] {
        try database.read { db in
            try db.rows("SELECT * FROM api_keys WHERE session_id = ? ORDER BY created_at, id", [session.rawValue], APIKeyRecord.init(row:))
        }
    }

    public func revokeAPIKey(id: String, at time: Timestamp) async throws -> Bool {
        try await database.write { db in
            try db.countRows("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING id", [time.stored, id]) > 0
        }
    }

    public func recordAPIKeyUse(id: String, at time: Timestamp) async throws {
        try await database.write { db in
            try db.run("UPDATE api_keys SET last_used_at = ? WHERE id = ?", [time.stored, id])
        }
    }

    // MARK: Messages

    public func insertMessage(_ message: Message, events: [OutboxEvent]) async throws -> Bool {
        let inserted = try await database.write { db in
            // A message stored as undecryptable is the only one a second delivery of the same id
            // changes: the decrypted one takes its place (and keeps its id).
            let inserted = try db.countRows(
                """
                INSERT INTO messages (id, session_id, external_id, direction, from_number, from_name, to_number, contact,
                    body, status, message_type, media_url, reply_to, timestamp, read_at, updated_at,
                    lid, chat_jid, sender_jid, group_id, group_subject, \(Self.mediaColumns))
                VALUES (?, ?, ?, ?, ?, CAST(? AS TEXT), ?, ?, CAST(? AS TEXT), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TEXT),
                    \(Self.mediaPlaceholders))
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
                [
                    message.id.rawValue, message.sessionID.rawValue, message.externalID, message.direction.rawValue,
                    message.from.e164, IntactText.argument(message.fromName), message.to.e164, message.contact.e164,
                    IntactText.argument(message.body),
                    message.status.rawValue, message.type.rawValue, message.mediaURL, message.replyTo?.rawValue,
                    message.timestamp.stored, message.readAt?.stored, message.timestamp.stored,
                    message.lid, message.chatJID, message.senderJID, message.group?.id, IntactText.argument(message.group?.subject),
                ] + Self.mediaArguments(message.media)
            )
            guard inserted > 0 else { return false }
            try Self.touchSession(message.sessionID, at: message.timestamp, in: db)
            if message.direction == .incoming, let name = message.fromName, !name.isEmpty {
                try db.run(
                    """
                    INSERT INTO contacts (session_id, phone, name, updated_at) VALUES (?, ?, CAST(? AS TEXT), ?)
                    ON CONFLICT (session_id, phone) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at
                    """,
                    [message.sessionID.rawValue, message.from.e164, IntactText.argument(name), message.timestamp.stored]
                )
            }
            try Self.record(events, in: db)
            return true
        }
        if inserted, !events.isEmpty { deliveryBell.ring() }
        return inserted
    }

    public func insertMessage(_ message: Message, idempotency: IdempotencyTag) async throws {
        try await database.write { db in
            try db.run(
                """
                INSERT INTO messages (id, session_id, external_id, direction, from_number, from_name, to_number, contact,
                    body, status, message_type, media_url, reply_to, timestamp, read_at, updated_at, idempotency_key, request_fingerprint,
                    \(Self.mediaColumns))
                VALUES (?, ?, ?, ?, ?, CAST(? AS TEXT), ?, ?, CAST(? AS TEXT), ?, ?, ?, ?, ?, ?, ?, ?, ?, \(Self.mediaPlaceholders))
                """,
                [
                    message.id.rawValue, message.sessionID.rawValue, message.externalID, message.direction.rawValue,
                    message.from.e164, IntactText.argument(message.fromName), message.to.e164, message.contact.e164,
                    IntactText.argument(message.body), message.status.rawValue, message.type.rawValue, message.mediaURL,
                    message.replyTo?.rawValue, message.timestamp.stored, message.readAt?.stored, message.timestamp.stored,
                    idempotency.key, idempotency.fingerprint,
                ] + Self.mediaArguments(message.media)
            )
            try Self.touchSession(message.sessionID, at: message.timestamp, in: db)
        }
    }

    public func idempotentSend(key: String, in session: SessionID) async throws -> IdempotentSend? {
        try database.read { db in
            try db.rows(
                "SELECT \(Self.messageColumns), request_fingerprint, answer_status, answer_body FROM messages WHERE session_id = ? AND idempotency_key = ?",
                [session.rawValue, key]
            ) { row in
                IdempotentSend(
                    message: try Message(row: row), fingerprint: row[Self.messageColumnCount] ?? "",
                    answerStatus: row[Self.messageColumnCount + 1], answerBody: (row[Self.messageColumnCount + 2] as Data?).map { Array($0) }
                )
            }.first
        }
    }

    public func recordAnswer(status: Int, body: [UInt8], forIdempotencyKey key: String, in session: SessionID) async throws {
        try await database.write { db in
            try db.run(
                "UPDATE messages SET answer_status = ?, answer_body = ? WHERE session_id = ? AND idempotency_key = ?",
                [status, Data(body), session.rawValue, key])
        }
    }

    public func releaseIdempotencyKey(_ key: String, in session: SessionID) async throws {
        try await database.write { db in
            try db.run("UPDATE messages SET idempotency_key = NULL WHERE session_id = ? AND idempotency_key = ?", [session.rawValue, key])
        }
    }

    public func advanceMessage(
        _ id: MessageID, in session: SessionID, to status: MessageStatus, at time: Timestamp,
        externalID: String?, announce: @escaping @Sendable (Message) -> [OutboxEvent]
    ) async throws -> Message? {
        let allowedFrom = MessageStatus.allCases.filter { $0.canAdvance(to: status) }
        guard !allowedFrom.isEmpty else { return nil }
        let placeholders = Array(repeating: "?", count: allowedFrom.count).joined(separator: ", ")
        var arguments: StatementArguments = [status.rawValue, time.stored, status.rawValue, time.stored, externalID, id.rawValue, session.rawValue]
        arguments += StatementArguments(allowedFrom.map { $0.rawValue })
        let advanced: Message? = try await database.write { [arguments] db in
            let rows = try db.rows(
                """
                UPDATE messages SET status = ?, updated_at = ?,
                    read_at = CASE WHEN ? = 'read' AND direction = 'incoming' THEN ? ELSE read_at END,
                    external_id = COALESCE(?, external_id)
                WHERE id = ? AND session_id = ? AND status IN (\(placeholders))
                RETURNING \(Self.messageColumns)
                """,
                arguments,
                Message.init(row:)
            )
            guard let message = rows.first else {
                // Already further along (a receipt overtook the send's own record): the status
                // stays, but WhatsApp's id for the message must not be lost.
                if let externalID {
                    try db.run(
                        "UPDATE messages SET external_id = COALESCE(external_id, ?) WHERE id = ? AND session_id = ?",
                        [externalID, id.rawValue, session.rawValue]
                    )
                }
                return nil
            }
            try Self.touchSession(session, at: time, in: db)
            try Self.record(announce(message), in: db)
            return message
        }
        if advanced != nil { deliveryBell.ring() }
        return advanced
    }

    public func updateMedia(
        of id: MessageID, in session: SessionID, to media: MediaAttachment, announce: @escaping @Sendable (Message) -> [OutboxEvent]
    ) async throws -> Message? {
        let updated: Message? = try await database.write { db in
            let rows = try db.rows(
                """
                UPDATE messages SET media_mime_type = ?, media_file_name = ?, media_size = ?, media_width = ?, media_height = ?,
                    media_status = ?, media_blob = ?, media_source = ?
                WHERE id = ? AND session_id = ? AND media_status IS NOT NULL
                RETURNING \(Self.messageColumns)
                """,
                Self.mediaArguments(media) + [id.rawValue, session.rawValue],
                Message.init(row:)
            )
            guard let message = rows.first else { return nil }
            try Self.record(announce(message), in: db)
            return message
        }
        if updated != nil { deliveryBell.ring() }
        return updated
    }

    public func messagesAwaitingMedia() async throws -> [Message] {
        try database.read { db in
            try db.rows(
                """
                SELECT \(Self.messageColumns) FROM messages
                WHERE media_source IS NOT NULL AND media_status IN ('pending', 'downloading') ORDER BY timestamp, id
                """, [], Message.init(row:))
        }
    }

    public func message(mediaOf id: MessageID) async throws -> Message? {
        try database.read { db in
            try db.rows("SELECT \(Self.messageColumns) FROM messages WHERE id = ? AND media_status IS NOT NULL", [id.rawValue], Message.init(row:))
                .first
        }
    }

    public func message(_ id: MessageID, in session: SessionID) async throws -> Message? {
        try database.read { db in
            try db.rows(
                "SELECT \(Self.messageColumns) FROM messages WHERE id = ? AND session_id = ?", [id.rawValue, session.rawValue], Message.init(row:)
            ).first
        }
    }

    public func message(externalID: String, direction: MessageDirection, in session: SessionID) async throws -> Message? {
        try database.read { db in
            try db.rows(
                "SELECT \(Self.messageColumns) FROM messages WHERE session_id = ? AND direction = ? AND external_id = ?",
                [session.rawValue, direction.rawValue, externalID],
                Message.init(row:)
            ).first
        }
    }

    public func messages(_ query: MessageQuery) async throws -> MessagePage {
        var conditions = ["session_id = ?"]
        var arguments: StatementArguments = [query.sessionID.rawValue]
        if let contact = query.contact {
            conditions.append("contact = ?")
            arguments += [contact.e164]
        }
        if query.status != .all {
            conditions.append("status = ?")
            arguments += [query.status.rawValue]
        }
        if let from = query.from {
            conditions.append("timestamp >= ?")
            arguments += [from.stored]
        }
        if let to = query.to {
            conditions.append("timestamp <= ?")
            arguments += [to.stored]
        }
        let filter = conditions.joined(separator: " AND ")
        // The total comes from the trigger-kept counters when no date bound applies, by counting otherwise.
        let totalQuery: String
        var totalArguments: StatementArguments
        if query.from == nil, query.to == nil {
            totalArguments = [query.sessionID.rawValue, query.contact?.e164 ?? ""]
            var statusFilter = ""
            if query.status != .all {
                statusFilter = " AND status = ?"
                totalArguments += [query.status.rawValue]
            }
            totalQuery = "SELECT COALESCE(SUM(n), 0) FROM message_counts WHERE session_id = ? AND contact = ?\(statusFilter)"
        } else {
            totalQuery = "SELECT COUNT(*) FROM messages WHERE \(filter)"
            totalArguments = arguments
        }
        // The total rides along with the page as an uncorrelated subquery, which SQLite evaluates
        // once: one statement, so page and total come from the same snapshot.
        let pageSQL = """
            SELECT \(Self.messageColumns), (\(totalQuery)) FROM messages WHERE \(filter)
            ORDER BY timestamp DESC, seq DESC LIMIT ? OFFSET ?
            """
        let pageArguments = totalArguments + arguments + [query.limit, query.offset]
        return try database.read { db in
            var total = 0
            let messages = try db.messages(pageSQL, pageArguments) { row in total = row[Self.messageColumnCount] }
            // A page past the end has no row to carry the total.
            if messages.isEmpty { total = try Int.fetchOne(db.cachedStatement(sql: "SELECT (\(totalQuery))"), arguments: totalArguments) ?? 0 }
            return MessagePage(messages: messages, total: total)
        }
    }

    public func conversation(_ query: ConversationQuery) async throws -> ConversationPage {
        let session = query.sessionID.rawValue
        let contact = query.contact.e164
        let summary = """
            (SELECT COALESCE(SUM(n), 0) FROM message_counts WHERE session_id = ?1 AND contact = ?2),
            (SELECT name FROM contacts WHERE session_id = ?1 AND phone = ?2)
            """
        var cursor = ""
        var arguments: StatementArguments = [session, contact, query.limit + 1]
        if let before = query.before {
            cursor = " AND (timestamp, seq) < (SELECT timestamp, seq FROM messages WHERE id = ?4 AND session_id = ?1 AND contact = ?2)"
            arguments += [before.rawValue]
        }
        let pageSQL = """
            SELECT \(Self.messageColumns), \(summary) FROM messages WHERE session_id = ?1 AND contact = ?2\(cursor)
            ORDER BY timestamp DESC, seq DESC LIMIT ?3
            """
        return try database.read { db in
            var total = 0
            var name: String?
            let rows = try db.messages(pageSQL, arguments) { row in
                total = row[Self.messageColumnCount]
                name = row.intactText(Self.messageColumnCount + 1)
            }
            if rows.isEmpty {
                if let before = query.before {
                    let anchor = try db.countRows(
                        "SELECT 1 FROM messages WHERE id = ? AND session_id = ? AND contact = ?", [before.rawValue, session, contact])
                    guard anchor > 0 else { throw StoreError.unknownCursor(before) }
                }
                let found = try db.rows("SELECT \(summary)", [session, contact]) { row in (total: row[0] as Int?, name: row.intactText(1)) }.first
                total = found?.total ?? 0
                name = found?.name
            }
            return ConversationPage(
                messages: rows.prefix(query.limit).reversed(), contactName: name, totalMessages: total, hasMore: rows.count > query.limit
            )
        }
    }

    // MARK: Settings

    public func setting(_ key: String) async throws -> String? {
        try database.read { db in
            try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM settings WHERE key = ?"), arguments: [key])
        }
    }

    public func setSetting(_ key: String, to value: String) async throws {
        try await database.write { db in
            try db.run("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [key, value])
        }
    }

    // MARK: Rows

    /// The columns `Message(row:)` reads, by position.
    static let messageColumns = """
        id, session_id, external_id, direction, from_number, from_name, to_number, body, status, message_type, \
        media_url, reply_to, timestamp, read_at, lid, chat_jid, sender_jid, group_id, group_subject, \(mediaColumns)
        """
    static let messageColumnCount = 27

    /// A media message's file, in columns 19 to 26 of ``messageColumns``; all null for text.
    static let mediaColumns = "media_mime_type, media_file_name, media_size, media_width, media_height, media_status, media_blob, media_source"
    static let mediaPlaceholders = "?, ?, ?, ?, ?, ?, ?, ?"

    static func mediaArguments(_ media: MediaAttachment?) -> StatementArguments {
        [
            media?.mimeType, media?.fileName, media?.size, media?.width, media?.height, media?.status.rawValue, media?.blobHash,
            media?.downloadSource,
        ]
    }

    /// Every message change is session activity; kept in the change's own transaction.
    private static func touchSession(_ id: SessionID, at time: Timestamp, in db: Database) throws {
        try db.run(
            "UPDATE sessions SET last_activity = ?1 WHERE id = ?2 AND (last_activity IS NULL OR last_activity < ?1)",
            [time.stored, id.rawValue]
        )
    }

    /// Stores each event that some active endpoint of its session subscribes to, with one
    /// delivery per such endpoint. An event nobody subscribes to is not stored: it would never be
    /// delivered (endpoints added later receive later events only).
    private static func record(_ events: [OutboxEvent], in db: Database) throws {
        for event in events {
            guard try hasSubscriber(for: event, in: db) else { continue }
            try db.run(
                "INSERT INTO events (session_id, type, payload, created_at) VALUES (?, ?, ?, ?)",
                [event.sessionID.rawValue, event.type, Data(event.payload), event.createdAt.stored]
            )
            try queueDeliveries(of: event, seq: db.lastInsertedRowID, in: db)
        }
    }
}

extension Database {
    /// Runs `sql` and decodes each row as the statement steps. Every statement goes through the
    /// connection's statement cache: the API runs the same few dozen statements over and over,
    /// and parsing them was a tenth of a request's time. Rows are decoded straight from SQLite's
    /// columns: rows copied out first (GRDB's `fetchAll`) went through a slower, generic path,
    /// about a tenth of the writer's time in a profile of sends.
    func rows<T>(_ sql: String, _ arguments: StatementArguments = [], _ decode: (Row) throws -> T) throws -> [T] {
        let cursor = try Row.fetchCursor(cachedStatement(sql: sql), arguments: arguments)
        var values: [T] = []
        while let row = try cursor.next() { values.append(try decode(row)) }
        return values
    }

    /// How many rows `sql` returns (an `UPDATE … RETURNING id`, an existence check), undecoded.
    func countRows(_ sql: String, _ arguments: StatementArguments = []) throws -> Int {
        try rows(sql, arguments) { _ in }.count
    }

    func run(_ sql: String, _ arguments: StatementArguments = []) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }

    /// Messages selected with ``SQLiteStore/messageColumns`` first; `extra` sees the first row,
    /// for the columns the statement adds after them.
    func messages(_ sql: String, _ arguments: StatementArguments, extra: (Row) -> Void = { _ in }) throws -> [Message] {
        var isFirst = true
        return try rows(sql, arguments) { row in
            if isFirst { extra(row); isFirst = false }
            return try Message(row: row)
        }
    }
}

extension Timestamp {
    /// How timestamps are stored: integer milliseconds since the Unix epoch.
    var stored: Int64 { millisecondsSinceEpoch }

    init(stored: Int64) { self.init(millisecondsSinceEpoch: stored) }
}

extension Row {
    func required(_ column: String) throws -> String {
        guard let value: String = self[column] else { throw StoreError.corruptRow("missing \(column)") }
        return value
    }

    func timestamp(_ column: String) -> Timestamp? {
        (self[column] as Int64?).map(Timestamp.init(stored:))
    }

    func value<T: RawRepresentable>(_ column: String) throws -> T where T.RawValue == String {
        guard let value = T(rawValue: try required(column)) else { throw StoreError.corruptRow("bad value in \(column)") }
        return value
    }
}

extension Session {
    init(row: Row) throws {
        self.init(
            id: SessionID(rawValue: try row.required("id")),
            kind: try row.value("kind"),
            name: row.intactText("name") ?? "",
            status: try row.value("status"),
            phoneNumber: (row["phone_number"] as String?).flatMap { PhoneNumber($0) },
            connectedAt: row.timestamp("connected_at"),
            lastActivity: row.timestamp("last_activity"),
            disconnectedAt: row.timestamp("disconnected_at"),
            createdAt: row.timestamp("created_at") ?? Timestamp(stored: 0),
            lid: row["lid"],
            pushName: row.intactText("push_name"),
            platform: row["platform"],
            // A value this build does not know (written by a newer one) reads as none.
            disconnectReason: (row["disconnect_reason"] as String?).flatMap(DisconnectReason.init(rawValue:)),
            connection: (row["connection"] as String?).flatMap(SessionConnection.init(rawValue:))
        )
    }
}

extension APIKeyRecord {
    init(row: Row) throws {
        guard let hash: Data = row["secret_hash"] else { throw StoreError.corruptRow("missing secret_hash") }
        guard let scopes = (row["scopes"] as String?).flatMap(APIKeyScope.parseList) else { throw StoreError.corruptRow("api key scopes") }
        self.init(
            id: try row.required("id"),
            sessionID: SessionID(rawValue: try row.required("session_id")),
            secretHash: Array(hash),
            label: row["label"],
            createdAt: row.timestamp("created_at") ?? Timestamp(stored: 0),
            lastUsedAt: row.timestamp("last_used_at"),
            revokedAt: row.timestamp("revoked_at"),
            scopes: scopes,
            requestsPerMinute: row["requests_per_minute"],
            expiresAt: row.timestamp("expires_at")
        )
    }
}

/// Messages are read by column position (``SQLiteStore/messageColumns``): pages of them are the
/// API's hottest path, and a lookup by name per column per row showed up in its profile.
extension Message {
    private static func media(_ row: Row) throws -> MediaAttachment? {
        guard let status: String = row[24] else { return nil }
        guard let status = MediaStatus(rawValue: status), let mimeType: String = row[19] else {
            throw StoreError.corruptRow("bad media columns")
        }
        return MediaAttachment(
            mimeType: mimeType, fileName: row[20], size: row[21], width: row[22], height: row[23], status: status, blobHash: row[25],
            downloadSource: row[26]
        )
    }

    init(row: Row) throws {
        func text(_ index: Int) throws -> String {
            guard let value: String = row[index] else { throw StoreError.corruptRow("message column \(index) is null") }
            return value
        }
        func phone(_ index: Int) throws -> PhoneNumber {
            guard let number = PhoneNumber(try text(index)) else { throw StoreError.corruptRow("bad phone in message column \(index)") }
            return number
        }
        func value<T: RawRepresentable>(_ index: Int) throws -> T where T.RawValue == String {
            guard let value = T(rawValue: try text(index)) else { throw StoreError.corruptRow("bad value in message column \(index)") }
            return value
        }
        self.init(
            id: MessageID(rawValue: try text(0)),
            sessionID: SessionID(rawValue: try text(1)),
            externalID: row[2],
            direction: try value(3),
            from: try phone(4),
            fromName: row.intactText(5),
            to: try phone(6),
            body: row.intactText(7) ?? "",
            status: try value(8),
            timestamp: Timestamp(stored: row[12] ?? 0),
            type: try value(9),
            mediaURL: row[10],
            media: try Self.media(row),
            replyTo: (row[11] as String?).map(MessageID.init(rawValue:)),
            readAt: (row[13] as Int64?).map(Timestamp.init(stored:)),
            lid: row[14],
            chatJID: row[15],
            senderJID: row[16],
            group: (row[17] as String?).map { MessageGroup(id: $0, subject: row.intactText(18)) }
        )
    }
}
