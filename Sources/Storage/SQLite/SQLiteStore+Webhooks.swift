import BuzzBridgeCore
import NIOCore
import SQLiteNIO

extension SQLiteStore: WebhookStore {
    /// One delivery per active endpoint of the session that accepts the event type, in the
    /// transaction that records the event. Delivery ids are random, made by SQLite itself.
    static func queueDeliveries(of event: OutboxEvent, seq: Int, in tx: WriteTransaction) async throws {
        let now = Timestamp.now()
        try await tx.execute(
            """
            INSERT INTO webhook_deliveries (id, event_seq, endpoint_id, session_id, state, next_attempt_at, created_at, updated_at)
            SELECT 'dlv_' || lower(hex(randomblob(12))), ?1, id, session_id, 'pending', ?2, ?2, ?2
            FROM webhook_endpoints
            WHERE session_id = ?3 AND disabled_at IS NULL
                AND (events IS NULL OR instr(',' || events || ',', ',' || ?4 || ',') > 0)
            """,
            [.integer(seq), .timestamp(now), .text(event.sessionID.rawValue), .text(event.type)]
        )
    }

    // MARK: Endpoints

    public func saveWebhookEndpoint(
        session: SessionID, url: String, secret: String, events: [String]?, at time: Timestamp
    ) async throws -> (endpoint: WebhookEndpoint, created: Bool) {
        let filter: SQLiteData = events.map { .text($0.joined(separator: ",")) } ?? .null
        return try await database.transaction { tx in
            let updated = try await tx.execute(
                """
                UPDATE webhook_endpoints SET secret = ?, events = ?, updated_at = ?
                WHERE session_id = ? AND url = ? AND disabled_at IS NULL RETURNING *
                """,
                [.text(secret), filter, .timestamp(time), .text(session.rawValue), .text(url)]
            )
            if let row = updated.first { return (try WebhookEndpoint(row: row), false) }
            let inserted = try await tx.execute(
                """
                INSERT INTO webhook_endpoints (id, session_id, url, secret, events, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *
                """,
                [.text(WebhookEndpointID.generate().rawValue), .text(session.rawValue), .text(url), .text(secret), filter,
                 .timestamp(time), .timestamp(time)]
            )
            guard let row = inserted.first else { throw StoreError.corruptRow("endpoint not inserted") }
            return (try WebhookEndpoint(row: row), true)
        }
    }

    public func webhookEndpoints(session: SessionID) async throws -> [WebhookEndpoint] {
        try await database.read(
            "SELECT * FROM webhook_endpoints WHERE session_id = ? AND disabled_at IS NULL ORDER BY created_at, id",
            [.text(session.rawValue)]
        ).map(WebhookEndpoint.init(row:))
    }

    public func webhookEndpoint(id: WebhookEndpointID) async throws -> WebhookEndpoint? {
        try await database.read("SELECT * FROM webhook_endpoints WHERE id = ?", [.text(id.rawValue)]).first.map(WebhookEndpoint.init(row:))
    }

    public func removeWebhookEndpoint(id: WebhookEndpointID, at time: Timestamp) async throws -> Bool {
        try await database.transaction { tx in
            let disabled = try await tx.execute(
                "UPDATE webhook_endpoints SET disabled_at = ?1, updated_at = ?1 WHERE id = ?2 AND disabled_at IS NULL RETURNING id",
                [.timestamp(time), .text(id.rawValue)]
            )
            guard !disabled.isEmpty else { return false }
            // A delivery being sent right now finishes and logs its outcome; the rest never go out.
            try await tx.execute(
                """
                UPDATE webhook_deliveries SET state = 'cancelled', next_attempt_at = NULL, updated_at = ?1
                WHERE endpoint_id = ?2 AND state = 'pending'
                """,
                [.timestamp(time), .text(id.rawValue)]
            )
            return true
        }
    }

    // MARK: Dispatching

    public func requeueInterruptedDeliveries(at time: Timestamp) async throws -> Int {
        try await database.write(
            "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = ?1, updated_at = ?1 WHERE state = 'delivering' RETURNING id",
            [.timestamp(time)]
        ).count
    }

    public func pendingWebhookWork() async throws -> [PendingWebhookWork] {
        try await database.read(
            """
            SELECT endpoint_id, due FROM (
                SELECT id AS endpoint_id,
                    (SELECT MIN(next_attempt_at) FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.state = 'pending') AS due
                FROM webhook_endpoints e WHERE disabled_at IS NULL
            ) WHERE due IS NOT NULL
            """
        ).map { row in
            PendingWebhookWork(
                endpointID: WebhookEndpointID(rawValue: try row.required("endpoint_id")),
                dueAt: row.timestamp("due") ?? Timestamp(millisecondsSinceEpoch: 0)
            )
        }
    }

    public func claimDueDeliveries(endpoint: WebhookEndpointID, now: Timestamp, limit: Int) async throws -> [ClaimedDelivery] {
        try await database.transaction { tx in
            let claimed = try await tx.execute(
                """
                UPDATE webhook_deliveries SET state = 'delivering', updated_at = ?1
                WHERE id IN (
                    SELECT id FROM webhook_deliveries
                    WHERE endpoint_id = ?2 AND state = 'pending' AND next_attempt_at <= ?1
                    ORDER BY event_seq LIMIT ?3
                ) RETURNING id
                """,
                [.timestamp(now), .text(endpoint.rawValue), .integer(limit)]
            )
            let ids: [SQLiteData] = claimed.compactMap { $0.column("id") }
            guard !ids.isEmpty else { return [] }
            let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ", ")
            let rows = try await tx.execute("\(Self.deliverySelect) WHERE d.id IN (\(placeholders)) ORDER BY d.event_seq", ids)
            return try rows.map { row in
                guard case .blob(var payload) = row.column("payload") else {
                    throw StoreError.corruptRow("claimed delivery without an event")
                }
                return ClaimedDelivery(
                    delivery: try WebhookDelivery(row: row),
                    secret: try row.required("secret"),
                    payload: payload.readBytes(length: payload.readableBytes) ?? []
                )
            }
        }
    }

    public func completeDeliveries(_ completions: [DeliveryCompletion]) async throws {
        guard !completions.isEmpty else { return }
        try await database.transaction { tx in
            for completion in completions {
                let (state, nextAttempt): (DeliveryState, SQLiteData) = switch completion.outcome {
                case .succeeded: (.succeeded, .null)
                case .failed: (.failed, .null)
                case .retry(let time): (.pending, .timestamp(time))
                }
                let attempt = completion.attempt
                let status = attempt.statusCode.map(SQLiteData.integer) ?? .null
                try await tx.execute(
                    """
                    UPDATE webhook_deliveries SET state = ?, attempts = ?, round_attempts = round_attempts + 1,
                        next_attempt_at = ?, last_status = ?, last_error = ?, updated_at = ?
                    WHERE id = ?
                    """,
                    [.text(state.rawValue), .integer(attempt.number), nextAttempt, status, .optional(attempt.error),
                     .timestamp(attempt.at), .text(completion.id.rawValue)]
                )
                try await tx.execute(
                    "INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, error, latency_ms) VALUES (?, ?, ?, ?, ?, ?)",
                    [.text(completion.id.rawValue), .integer(attempt.number), .timestamp(attempt.at), status, .optional(attempt.error),
                     .integer(attempt.latencyMilliseconds)]
                )
            }
        }
    }

    public func releaseDelivery(_ id: DeliveryID, at time: Timestamp) async throws {
        _ = try await database.write(
            "UPDATE webhook_deliveries SET state = 'pending', updated_at = ?1 WHERE id = ?2 AND state = 'delivering'",
            [.timestamp(time), .text(id.rawValue)]
        )
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
        var binds: [SQLiteData] = [.text(query.sessionID.rawValue)]
        var stateFilter = ""
        if let state = query.state {
            stateFilter = " AND d.state = ?"
            binds.append(.text(state.rawValue))
        }
        return try await database.read(
            "\(Self.deliveryListSelect) WHERE d.session_id = ?\(stateFilter) ORDER BY d.event_seq DESC, d.id LIMIT ?",
            binds + [.integer(query.limit)]
        ).map(WebhookDelivery.init(row:))
    }

    public func webhookDelivery(id: DeliveryID) async throws -> WebhookDelivery? {
        try await database.read("\(Self.deliveryListSelect) WHERE d.id = ?", [.text(id.rawValue)]).first.map(WebhookDelivery.init(row:))
    }

    public func webhookAttempts(of id: DeliveryID) async throws -> [WebhookAttempt] {
        try await database.read("SELECT * FROM webhook_attempts WHERE delivery_id = ? ORDER BY attempt", [.text(id.rawValue)]).map { row in
            WebhookAttempt(
                number: row.column("attempt")?.integer ?? 0,
                at: row.timestamp("at") ?? Timestamp(millisecondsSinceEpoch: 0),
                statusCode: row.column("status_code")?.integer,
                error: row.column("error")?.string,
                latencyMilliseconds: row.column("latency_ms")?.integer ?? 0
            )
        }
    }

    public func webhookPayload(of id: DeliveryID) async throws -> [UInt8]? {
        let rows = try await database.read(
            "SELECT ev.payload FROM webhook_deliveries d JOIN events ev ON ev.seq = d.event_seq WHERE d.id = ?", [.text(id.rawValue)]
        )
        guard case .blob(var payload) = rows.first?.column("payload") else { return nil }
        return payload.readBytes(length: payload.readableBytes)
    }

    public func redeliver(_ id: DeliveryID, at time: Timestamp) async throws -> RedeliveryResult {
        let result: RedeliveryResult = try await database.transaction { tx in
            let rows = try await tx.execute(
                """
                SELECT d.state, ep.disabled_at FROM webhook_deliveries d JOIN webhook_endpoints ep ON ep.id = d.endpoint_id
                WHERE d.id = ?
                """,
                [.text(id.rawValue)]
            )
            guard let row = rows.first else { return .notFound }
            let state: DeliveryState = try row.value("state")
            guard row.timestamp("disabled_at") == nil else { return .endpointRemoved }
            guard state == .failed || state == .succeeded else { return .alreadyQueued(state) }
            try await tx.execute(
                """
                UPDATE webhook_deliveries SET state = 'pending', round_attempts = 0, next_attempt_at = ?1, updated_at = ?1
                WHERE id = ?2
                """,
                [.timestamp(time), .text(id.rawValue)]
            )
            guard let updated = try await tx.execute("\(Self.deliveryListSelect) WHERE d.id = ?", [.text(id.rawValue)]).first else {
                return .notFound
            }
            return .queued(try WebhookDelivery(row: updated))
        }
        if case .queued = result { deliveryBell.ring() }
        return result
    }

    public func redeliverFailed(session: SessionID, at time: Timestamp) async throws -> Int {
        let count = try await database.write(
            """
            UPDATE webhook_deliveries SET state = 'pending', round_attempts = 0, next_attempt_at = ?1, updated_at = ?1
            WHERE session_id = ?2 AND state = 'failed'
                AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE session_id = ?2 AND disabled_at IS NULL)
            RETURNING id
            """,
            [.timestamp(time), .text(session.rawValue)]
        ).count
        if count > 0 { deliveryBell.ring() }
        return count
    }
}

extension WebhookEndpoint {
    init(row: SQLiteRow) throws {
        self.init(
            id: WebhookEndpointID(rawValue: try row.required("id")),
            sessionID: SessionID(rawValue: try row.required("session_id")),
            url: try row.required("url"),
            secret: try row.required("secret"),
            events: row.column("events")?.string.map { $0.split(separator: ",").map(String.init) },
            createdAt: row.timestamp("created_at") ?? Timestamp(millisecondsSinceEpoch: 0),
            updatedAt: row.timestamp("updated_at") ?? Timestamp(millisecondsSinceEpoch: 0),
            disabledAt: row.timestamp("disabled_at")
        )
    }
}

extension WebhookDelivery {
    init(row: SQLiteRow) throws {
        self.init(
            id: DeliveryID(rawValue: try row.required("id")),
            eventSeq: Int64(row.column("event_seq")?.integer ?? 0),
            eventType: try row.required("event_type"),
            endpointID: WebhookEndpointID(rawValue: try row.required("endpoint_id")),
            url: try row.required("url"),
            sessionID: SessionID(rawValue: try row.required("session_id")),
            state: try row.value("state"),
            attempts: row.column("attempts")?.integer ?? 0,
            roundAttempts: row.column("round_attempts")?.integer ?? 0,
            nextAttemptAt: row.timestamp("next_attempt_at"),
            lastStatus: row.column("last_status")?.integer,
            lastError: row.column("last_error")?.string,
            createdAt: row.timestamp("created_at") ?? Timestamp(millisecondsSinceEpoch: 0),
            updatedAt: row.timestamp("updated_at") ?? Timestamp(millisecondsSinceEpoch: 0)
        )
    }
}
