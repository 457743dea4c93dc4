import BuzzBridgeCore
import Foundation
import GRDB

extension SQLiteStore: WebhookStore {
    /// The active endpoints of `:session` that accept events of `:type`.
    private static let subscribedEndpoints = """
        FROM webhook_endpoints WHERE session_id = :session AND disabled_at IS NULL
            AND (events IS NULL OR instr(',' || events || ',', ',' || :type || ',') > 0)
        """

    static func hasSubscriber(for event: OutboxEvent, in db: Database) throws -> Bool {
        try db.countRows("SELECT 1 \(subscribedEndpoints) LIMIT 1", ["session": event.sessionID.rawValue, "type": event.type]) > 0
    }

    /// One delivery per subscribed endpoint, in the transaction that records the event. Delivery
    /// ids are random, made by SQLite itself.
    static func queueDeliveries(of event: OutboxEvent, seq: Int64, in db: Database) throws {
        try db.run(
            """
            INSERT INTO webhook_deliveries (id, event_seq, endpoint_id, session_id, conversation, state, next_attempt_at, created_at, updated_at)
            SELECT 'dlv_' || lower(hex(randomblob(12))), :seq, id, session_id, :conversation, 'pending', :now, :now, :now
            \(subscribedEndpoints)
            """,
            [
                "seq": seq, "now": Timestamp.now().stored, "session": event.sessionID.rawValue, "type": event.type,
                "conversation": event.conversation,
            ]
        )
    }

    // MARK: Endpoints

    public func saveWebhookEndpoint(
        session: SessionID, url: String, secret: String, events: [String]?, at time: Timestamp
    ) async throws -> (endpoint: WebhookEndpoint, created: Bool) {
        let filter = events?.joined(separator: ",")
        let saved = try await database.write { db -> WebhookEndpoint.Saved in
            let updated = try db.rows(
                """
                UPDATE webhook_endpoints SET secret = ?, events = ?, updated_at = ?
                WHERE session_id = ? AND url = ? AND disabled_at IS NULL RETURNING *
                """,
                [secret, filter, time.stored, session.rawValue, url],
                WebhookEndpoint.init(row:)
            )
            if let endpoint = updated.first { return .init(endpoint: endpoint, created: false) }
            let inserted = try db.rows(
                """
                INSERT INTO webhook_endpoints (id, session_id, url, secret, events, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *
                """,
                [WebhookEndpointID.generate().rawValue, session.rawValue, url, secret, filter, time.stored, time.stored],
                WebhookEndpoint.init(row:)
            )
            guard let endpoint = inserted.first else { throw StoreError.corruptRow("endpoint not inserted") }
            return .init(endpoint: endpoint, created: true)
        }
        return (saved.endpoint, saved.created)
    }

    public func webhookEndpoints(session: SessionID) async throws -> [WebhookEndpoint] {
        try database.read { db in
            try db.rows(
                "SELECT * FROM webhook_endpoints WHERE session_id = ? AND disabled_at IS NULL ORDER BY created_at, id", [session.rawValue],
                WebhookEndpoint.init(row:)
            )
        }
    }

    public func webhookEndpoint(id: WebhookEndpointID) async throws -> WebhookEndpoint? {
        try database.read { db in
            try db.rows("SELECT * FROM webhook_endpoints WHERE id = ?", [id.rawValue], WebhookEndpoint.init(row:)).first
        }
    }

    public func removeWebhookEndpoint(id: WebhookEndpointID, at time: Timestamp) async throws -> Bool {
        try await database.write { db in
            let disabled = try db.countRows(
                "UPDATE webhook_endpoints SET disabled_at = ?1, updated_at = ?1 WHERE id = ?2 AND disabled_at IS NULL RETURNING id",
                [time.stored, id.rawValue]
            )
            guard disabled > 0 else { return false }
            // A delivery being sent right now finishes and logs its outcome; the rest never go out.
            try db.run(
                """
                UPDATE webhook_deliveries SET state = 'cancelled', next_attempt_at = NULL, updated_at = ?1
                WHERE endpoint_id = ?2 AND state = 'pending'
                """,
                [time.stored, id.rawValue]
            )
            return true
        }
    }

    // MARK: Dispatching

    public func requeueInterruptedDeliveries(at time: Timestamp) async throws -> Int {
        try await database.write { db in
            try db.countRows(
                "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = ?1, updated_at = ?1 WHERE state = 'delivering' RETURNING id",
                [time.stored]
            )
        }
    }

    public func pendingWebhookWork() async throws -> [PendingWebhookWork] {
        try database.read { db in
            try db.rows(
                """
                SELECT endpoint_id, due FROM (
                    SELECT id AS endpoint_id,
                        (SELECT MIN(next_attempt_at) FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.state = 'pending') AS due
                    FROM webhook_endpoints e WHERE disabled_at IS NULL
                ) WHERE due IS NOT NULL
                """
            ) { row in
                PendingWebhookWork(
                    endpointID: WebhookEndpointID(rawValue: try row.required("endpoint_id")),
                    dueAt: row.timestamp("due") ?? Timestamp(stored: 0)
                )
            }
        }
    }

    /// Each conversation's barrier: the first of its deliveries that holds back the ones after it.
    /// Any being sent holds back all (-1), else the first pending one not yet due. Both sets are
    /// small (in flight, waiting for a retry) and come from the queue indexes.
    private static let barriers = """
        barriers AS MATERIALIZED (
            SELECT conversation, MIN(seq) AS seq FROM (
                SELECT conversation, -1 AS seq FROM webhook_deliveries WHERE endpoint_id = ?2 AND state = 'delivering'
                UNION ALL
                SELECT conversation, event_seq AS seq FROM webhook_deliveries
                WHERE endpoint_id = ?2 AND state = 'pending' AND next_attempt_at > ?1
            ) GROUP BY conversation
        )
        """

    /// The claimable deliveries among the endpoint's oldest `?4` pending ones, oldest first: cheap
    /// when the queue's head is claimable, which is the usual case.
    private static let claimableInWindow = """
        WITH \(barriers),
        head AS MATERIALIZED (
            SELECT id, event_seq, conversation, next_attempt_at FROM webhook_deliveries
            WHERE endpoint_id = ?2 AND state = 'pending' ORDER BY event_seq LIMIT ?4
        )
        SELECT h.id FROM head h LEFT JOIN barriers b ON b.conversation = h.conversation
        WHERE h.next_attempt_at <= ?1 AND (b.seq IS NULL OR h.event_seq < b.seq)
        ORDER BY h.event_seq LIMIT ?3
        """

    /// All claimable deliveries, oldest first, found conversation by conversation (a skip scan of
    /// the conversation index): for when the oldest pending deliveries are all held back, as
    /// when one busy conversation has a long queue behind the delivery in flight. Costs a few
    /// index lookups per conversation with queued deliveries, however long their queues.
    private static let claimableByConversation = """
        WITH RECURSIVE conversations(name) AS (
            SELECT (SELECT MIN(conversation) FROM webhook_deliveries WHERE endpoint_id = ?2 AND state = 'pending')
            UNION ALL
            SELECT (SELECT MIN(conversation) FROM webhook_deliveries WHERE endpoint_id = ?2 AND state = 'pending' AND conversation > name)
            FROM conversations WHERE name IS NOT NULL
        ),
        \(barriers),
        open AS MATERIALIZED (
            SELECT name, barrier FROM (
                SELECT c.name,
                    (SELECT MIN(h.event_seq) FROM webhook_deliveries h
                     WHERE h.endpoint_id = ?2 AND h.state = 'pending' AND h.conversation = c.name) AS head,
                    COALESCE((SELECT b.seq FROM barriers b WHERE b.conversation = c.name), 9223372036854775807) AS barrier
                FROM conversations c WHERE c.name IS NOT NULL
            ) WHERE head < barrier
        )
        SELECT d.id FROM open o
        JOIN webhook_deliveries d ON d.endpoint_id = ?2 AND d.state = 'pending' AND d.conversation = o.name AND d.event_seq < o.barrier
        WHERE d.next_attempt_at <= ?1
        ORDER BY d.event_seq LIMIT ?3
        """

    /// Pending deliveries looked at before the search goes conversation by conversation.
    static let claimWindow = 256

    /// The endpoint's claimable deliveries (see ``WebhookStore/claimDueDeliveries(endpoint:now:limit:settling:)``),
    /// at most `limit`, oldest first.
    static func claimableIDs(endpoint: WebhookEndpointID, now: Timestamp, limit: Int, in db: Database) throws -> [String] {
        guard limit > 0 else { return [] }
        let arguments: StatementArguments = [now.stored, endpoint.rawValue, limit, claimWindow]
        let found = try String.fetchAll(db.cachedStatement(sql: claimableInWindow), arguments: arguments)
        guard found.count < limit else { return found }
        // Fewer than asked: complete if the window held every pending delivery.
        let pending = try db.countRows(
            "SELECT 1 FROM webhook_deliveries WHERE endpoint_id = ?1 AND state = 'pending' LIMIT ?2", [endpoint.rawValue, claimWindow]
        )
        guard pending == claimWindow else { return found }
        return try String.fetchAll(db.cachedStatement(sql: claimableByConversation), arguments: [now.stored, endpoint.rawValue, limit])
    }

    public func claimDueDeliveries(
        endpoint: WebhookEndpointID, now: Timestamp, limit: Int, settling: DeliverySettlement
    ) async throws -> [ClaimedDelivery] {
        // With nothing to write, a reader first checks that there is something to claim: the
        // dispatcher asks after every commit that rings the bell, and most asks find nothing
        // while a conversation's deliveries are in flight. They need not queue for the writer.
        if settling.isEmpty, try database.read({ db in try Self.claimableIDs(endpoint: endpoint, now: now, limit: 1, in: db) }).isEmpty {
            return []
        }
        return try await database.write { db in
            try Self.settle(settling, at: now, in: db)
            let candidates = try Self.claimableIDs(endpoint: endpoint, now: now, limit: limit, in: db)
            guard !candidates.isEmpty else { return [] }
            // Delivery ids are `dlv_` + hex, so they need no escaping inside the JSON array.
            let ids = "[" + candidates.map { "\"\($0)\"" }.joined(separator: ",") + "]"
            try db.run(
                "UPDATE webhook_deliveries SET state = 'delivering', updated_at = ?1 WHERE id IN (SELECT value FROM json_each(?2))",
                [now.stored, ids]
            )
            return try db.rows("\(Self.deliverySelect) WHERE d.id IN (SELECT value FROM json_each(?)) ORDER BY d.event_seq", [ids]) { row in
                guard let payload: Data = row["payload"] else { throw StoreError.corruptRow("claimed delivery without an event") }
                return ClaimedDelivery(delivery: try WebhookDelivery(row: row), secret: try row.required("secret"), payload: Array(payload))
            }
        }
    }

    public func completeDeliveries(_ completions: [DeliveryCompletion]) async throws {
        guard !completions.isEmpty else { return }
        try await database.write { db in try Self.settle(DeliverySettlement(completions: completions), at: .now(), in: db) }
    }

    public func releaseDelivery(_ id: DeliveryID, at time: Timestamp) async throws {
        try await database.write { db in try Self.settle(DeliverySettlement(released: [id]), at: time, in: db) }
    }

    public func outboxDepth() async throws -> Int {
        try database.read { db in
            try db.rows("SELECT COUNT(*) FROM webhook_deliveries WHERE state IN ('pending', 'delivering')") { row -> Int in row[0] ?? 0 }.first ?? 0
        }
    }

    public func deliveryBacklog(endpoint: WebhookEndpointID, now: Timestamp) async throws -> DeliveryBacklog {
        try database.read { db in
            try db.rows(
                """
                SELECT COUNT(*), MIN(CASE WHEN next_attempt_at > ?1 THEN next_attempt_at END)
                FROM webhook_deliveries WHERE endpoint_id = ?2 AND state = 'pending'
                """,
                [now.stored, endpoint.rawValue]
            ) { row in DeliveryBacklog(pending: row[0] ?? 0, nextDueAt: (row[1] as Int64?).map(Timestamp.init(stored:))) }.first
                ?? DeliveryBacklog(pending: 0, nextDueAt: nil)
        }
    }

    /// Logs each completion's attempt and moves its delivery to the outcome's state; returns the
    /// released deliveries to the queue as they were (no attempt counted, due time kept).
    private static func settle(_ settlement: DeliverySettlement, at time: Timestamp, in db: Database) throws {
        for completion in settlement.completions {
            let (state, nextAttempt): (DeliveryState, Int64?) =
                switch completion.outcome {
                case .succeeded: (.succeeded, nil)
                case .failed: (.failed, nil)
                case .retry(let time): (.pending, time.stored)
                }
            let attempt = completion.attempt
            try db.run(
                """
                UPDATE webhook_deliveries SET state = ?, attempts = ?, round_attempts = round_attempts + 1,
                    next_attempt_at = ?, last_status = ?, last_error = ?, updated_at = ?
                WHERE id = ?
                """,
                [state.rawValue, attempt.number, nextAttempt, attempt.statusCode, attempt.error, attempt.at.stored, completion.id.rawValue]
            )
            try db.run(
                "INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, error, latency_ms) VALUES (?, ?, ?, ?, ?, ?)",
                [completion.id.rawValue, attempt.number, attempt.at.stored, attempt.statusCode, attempt.error, attempt.latencyMilliseconds]
            )
        }
        for id in settlement.released {
            try db.run(
                "UPDATE webhook_deliveries SET state = 'pending', updated_at = ?1 WHERE id = ?2 AND state = 'delivering'",
                [time.stored, id.rawValue]
            )
        }
    }

    // MARK: Delivery log

    static let deliverySelect = """
        SELECT d.*, ev.type AS event_type, ev.payload AS payload, ep.url AS url, ep.secret AS secret
        FROM webhook_deliveries d
        JOIN events ev ON ev.seq = d.event_seq
        JOIN webhook_endpoints ep ON ep.id = d.endpoint_id
        """

    static let deliveryListSelect = """
        SELECT d.*, ev.type AS event_type, ep.url AS url
        FROM webhook_deliveries d
        JOIN events ev ON ev.seq = d.event_seq
        JOIN webhook_endpoints ep ON ep.id = d.endpoint_id
        """

    public func webhookDeliveries(_ query: DeliveryQuery) async throws -> [WebhookDelivery] {
        var arguments: StatementArguments = [query.sessionID.rawValue]
        var stateFilter = ""
        if let state = query.state {
            stateFilter = " AND d.state = ?"
            arguments += [state.rawValue]
        }
        let sql = "\(Self.deliveryListSelect) WHERE d.session_id = ?\(stateFilter) ORDER BY d.event_seq DESC, d.id LIMIT ?"
        let allArguments = arguments + [query.limit]
        return try database.read { db in
            try db.rows(sql, allArguments, WebhookDelivery.init(row:))
        }
    }

    public func webhookDelivery(id: DeliveryID) async throws -> WebhookDelivery? {
        try database.read { db in
            try db.rows("\(Self.deliveryListSelect) WHERE d.id = ?", [id.rawValue], WebhookDelivery.init(row:)).first
        }
    }

    public func webhookAttempts(of id: DeliveryID) async throws -> [WebhookAttempt] {
        try database.read { db in
            try db.rows("SELECT * FROM webhook_attempts WHERE delivery_id = ? ORDER BY attempt", [id.rawValue]) { row in
                WebhookAttempt(
                    number: row["attempt"] ?? 0,
                    at: row.timestamp("at") ?? Timestamp(stored: 0),
                    statusCode: row["status_code"],
                    error: row["error"],
                    latencyMilliseconds: row["latency_ms"] ?? 0
                )
            }
        }
    }

    public func webhookPayload(of id: DeliveryID) async throws -> [UInt8]? {
        try database.read { db in
            let payload = try Data.fetchOne(
                db.cachedStatement(sql: "SELECT ev.payload FROM webhook_deliveries d JOIN events ev ON ev.seq = d.event_seq WHERE d.id = ?"),
                arguments: [id.rawValue]
            )
            return payload.map(Array.init)
        }
    }

    public func redeliver(_ id: DeliveryID, at time: Timestamp) async throws -> RedeliveryResult {
        let result: RedeliveryResult = try await database.write { db in
            guard
                let row = try db.rows(
                    """
                    SELECT d.state, ep.disabled_at FROM webhook_deliveries d JOIN webhook_endpoints ep ON ep.id = d.endpoint_id
                    WHERE d.id = ?
                    """,
                    [id.rawValue],
                    { row in (state: try row.value("state") as DeliveryState, endpointDisabled: row.timestamp("disabled_at") != nil) }
                ).first
            else { return .notFound }
            let state = row.state
            guard !row.endpointDisabled else { return .endpointRemoved }
            guard state == .failed || state == .succeeded else { return .alreadyQueued(state) }
            try db.run(
                """
                UPDATE webhook_deliveries SET state = 'pending', round_attempts = 0, next_attempt_at = ?1, updated_at = ?1
                WHERE id = ?2
                """,
                [time.stored, id.rawValue]
            )
            guard let updated = try db.rows("\(Self.deliveryListSelect) WHERE d.id = ?", [id.rawValue], WebhookDelivery.init(row:)).first
            else { return .notFound }
            return .queued(updated)
        }
        if case .queued = result { deliveryBell.ring() }
        return result
    }

    public func redeliverFailed(session: SessionID, at time: Timestamp) async throws -> Int {
        let count = try await database.write { db in
            try db.countRows(
                """
                UPDATE webhook_deliveries SET state = 'pending', round_attempts = 0, next_attempt_at = ?1, updated_at = ?1
                WHERE session_id = ?2 AND state = 'failed'
                    AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE session_id = ?2 AND disabled_at IS NULL)
                RETURNING id
                """,
                [time.stored, session.rawValue]
            )
        }
        if count > 0 { deliveryBell.ring() }
        return count
    }
}

extension WebhookEndpoint {
    /// A saved endpoint and whether saving created it (a tuple is not `Sendable` across the writer).
    struct Saved: Sendable {
        let endpoint: WebhookEndpoint
        let created: Bool
    }

    init(row: Row) throws {
        self.init(
            id: WebhookEndpointID(rawValue: try row.required("id")),
            sessionID: SessionID(rawValue: try row.required("session_id")),
            url: try row.required("url"),
            secret: try row.required("secret"),
            events: (row["events"] as String?).map { $0.split(separator: ",").map(String.init) },
            createdAt: row.timestamp("created_at") ?? Timestamp(stored: 0),
            updatedAt: row.timestamp("updated_at") ?? Timestamp(stored: 0),
            disabledAt: row.timestamp("disabled_at")
        )
    }
}

extension WebhookDelivery {
    init(row: Row) throws {
        self.init(
            id: DeliveryID(rawValue: try row.required("id")),
            eventSeq: row["event_seq"] ?? 0,
            eventType: try row.required("event_type"),
            conversation: row["conversation"] ?? "",
            endpointID: WebhookEndpointID(rawValue: try row.required("endpoint_id")),
            url: try row.required("url"),
            sessionID: SessionID(rawValue: try row.required("session_id")),
            state: try row.value("state"),
            attempts: row["attempts"] ?? 0,
            roundAttempts: row["round_attempts"] ?? 0,
            nextAttemptAt: row.timestamp("next_attempt_at"),
            lastStatus: row["last_status"],
            lastError: row["last_error"],
            createdAt: row.timestamp("created_at") ?? Timestamp(stored: 0),
            updatedAt: row.timestamp("updated_at") ?? Timestamp(stored: 0)
        )
    }
}
