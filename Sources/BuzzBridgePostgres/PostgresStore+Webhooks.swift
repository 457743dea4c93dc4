import BuzzBridgeCore
import BuzzBridgeStorage
import Logging
import NIOCore
import PostgresNIO

/// ``WebhookStore`` on PostgreSQL, with ``SQLiteStore``'s contract. A claim takes a transaction
/// advisory lock on its endpoint, so however many nodes dispatch, one at a time claims an
/// endpoint's deliveries and the conversation barriers hold across nodes; the rows it takes are
/// locked `FOR UPDATE … SKIP LOCKED` and marked with the claiming node, so each delivery goes out
/// from one node, and only that node, or a node taking over from it once it is dead, puts it back.
extension PostgresStore: WebhookStore {
    // MARK: Endpoints

    public func saveWebhookEndpoint(
        session: SessionID, url: String, secret: String, events: [String]?, at time: Timestamp
    ) async throws -> (endpoint: WebhookEndpoint, created: Bool) {
        let filter = events?.joined(separator: ",")
        let logger = logger
        let saved = try await client.withTransaction(logger: logger) { connection -> SavedEndpoint in
            var updated: WebhookEndpoint?
            for try await row in try await connection.query(
                """
                UPDATE webhook_endpoints SET secret = \(secret), events = \(filter), updated_at = \(time.millisecondsSinceEpoch)
                WHERE session_id = \(session.rawValue) AND url = \(url) AND disabled_at IS NULL RETURNING *
                """,
                logger: logger)
            {
                updated = try WebhookEndpoint(row: row.makeRandomAccess())
            }
            if let updated { return SavedEndpoint(endpoint: updated, created: false) }
            var inserted: WebhookEndpoint?
            for try await row in try await connection.query(
                """
                INSERT INTO webhook_endpoints (id, session_id, url, secret, events, created_at, updated_at)
                VALUES (\(WebhookEndpointID.generate().rawValue), \(session.rawValue), \(url), \(secret), \(filter),
                    \(time.millisecondsSinceEpoch), \(time.millisecondsSinceEpoch))
                RETURNING *
                """,
                logger: logger)
            {
                inserted = try WebhookEndpoint(row: row.makeRandomAccess())
            }
            guard let inserted else { throw StoreError.corruptRow("endpoint not inserted") }
            return SavedEndpoint(endpoint: inserted, created: true)
        }
        return (saved.endpoint, saved.created)
    }

    public func webhookEndpoints(session: SessionID) async throws -> [WebhookEndpoint] {
        try await all(
            "SELECT * FROM webhook_endpoints WHERE session_id = \(session.rawValue) AND disabled_at IS NULL ORDER BY created_at, id",
            WebhookEndpoint.init(row:))
    }

    public func webhookEndpoint(id: WebhookEndpointID) async throws -> WebhookEndpoint? {
        try await first("SELECT * FROM webhook_endpoints WHERE id = \(id.rawValue)", WebhookEndpoint.init(row:))
    }

    public func removeWebhookEndpoint(id: WebhookEndpointID, at time: Timestamp) async throws -> Bool {
        let logger = logger
        return try await client.withTransaction(logger: logger) { connection -> Bool in
            let disabled = try await connection.query(
                """
                UPDATE webhook_endpoints SET disabled_at = \(time.millisecondsSinceEpoch), updated_at = \(time.millisecondsSinceEpoch)
                WHERE id = \(id.rawValue) AND disabled_at IS NULL RETURNING id
                """,
                logger: logger
            ).collect()
            guard !disabled.isEmpty else { return false }
            // A delivery being sent right now finishes and logs its outcome; the rest never go out.
            try await connection.query(
                """
                UPDATE webhook_deliveries SET state = 'cancelled', next_attempt_at = NULL, updated_at = \(time.millisecondsSinceEpoch)
                WHERE endpoint_id = \(id.rawValue) AND state = 'pending'
                """,
                logger: logger)
            return true
        }
    }

    // MARK: Dispatching

    public func requeueInterruptedDeliveries(at time: Timestamp) async throws -> Int {
        guard let node = leases?.policy.node else {
            return try await all(
                """
                UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = \(time.millisecondsSinceEpoch),
                    updated_at = \(time.millisecondsSinceEpoch)
                WHERE state = 'delivering' RETURNING id
                """
            ) { _ in () }.count
        }
        return try await requeueDeliveries(claimedByDeadNodesOr: node)
    }

    public func requeueDeliveriesOfDeadNodes() async throws -> Int {
        guard leases != nil else { return 0 }
        return try await requeueDeliveries(claimedByDeadNodesOr: nil)
    }

    /// Deliveries being sent by `node` or by a node whose heartbeat (`cluster_nodes`) has run out
    /// by the database's clock, or claimed before nodes were recorded, back to the queue.
    private func requeueDeliveries(claimedByDeadNodesOr node: String?) async throws -> Int {
        let time = Timestamp.now().millisecondsSinceEpoch
        return try await all(
            """
            UPDATE webhook_deliveries d SET state = 'pending', next_attempt_at = \(time), updated_at = \(time), claimed_by = NULL
            WHERE d.state = 'delivering' AND (
                d.claimed_by IS NULL OR d.claimed_by = \(node) OR NOT EXISTS (
                    SELECT 1 FROM cluster_nodes c WHERE c.node_id = d.claimed_by
                        AND c.alive_until > (extract(epoch FROM clock_timestamp()) * 1000)::bigint))
            RETURNING d.id
            """
        ) { _ in () }.count
    }

    public func pendingWebhookWork() async throws -> [PendingWebhookWork] {
        try await all(
            """
            SELECT e.id, MIN(d.next_attempt_at) FROM webhook_endpoints e
            JOIN webhook_deliveries d ON d.endpoint_id = e.id AND d.state = 'pending'
            WHERE e.disabled_at IS NULL GROUP BY e.id
            """
        ) { row in
            PendingWebhookWork(
                endpointID: WebhookEndpointID(rawValue: try row[0].decode(String.self)),
                dueAt: Timestamp(millisecondsSinceEpoch: try row[1].decode(Int64?.self) ?? 0)
            )
        }
    }

    /// The endpoint's claimable deliveries, oldest first, at most `limit`: pending and due, with no
    /// delivery of their conversation being sent and none before them in it waiting for a retry.
    private static func claimableIDs(
        endpoint: WebhookEndpointID, now: Timestamp, limit: Int, on connection: PostgresConnection, logger: Logger
    ) async throws -> [String] {
        guard limit > 0 else { return [] }
        let rows = try await connection.query(
            """
            WITH barriers AS MATERIALIZED (
                SELECT conversation, MIN(seq) AS seq FROM (
                    SELECT conversation, -1 AS seq FROM webhook_deliveries
                    WHERE endpoint_id = \(endpoint.rawValue) AND state = 'delivering'
                    UNION ALL
                    SELECT conversation, event_seq AS seq FROM webhook_deliveries
                    WHERE endpoint_id = \(endpoint.rawValue) AND state = 'pending' AND next_attempt_at > \(now.millisecondsSinceEpoch)
                ) blocking GROUP BY conversation
            )
            SELECT d.id FROM webhook_deliveries d LEFT JOIN barriers b ON b.conversation = d.conversation
            WHERE d.endpoint_id = \(endpoint.rawValue) AND d.state = 'pending' AND d.next_attempt_at <= \(now.millisecondsSinceEpoch)
                AND (b.seq IS NULL OR d.event_seq < b.seq)
            ORDER BY d.event_seq LIMIT \(limit)
            FOR UPDATE OF d SKIP LOCKED
            """,
            logger: logger)
        var ids: [String] = []
        for try await id in rows.decode(String.self) { ids.append(id) }
        return ids
    }

    public func claimDueDeliveries(
        endpoint: WebhookEndpointID, now: Timestamp, limit: Int, settling: DeliverySettlement
    ) async throws -> [ClaimedDelivery] {
        let logger = logger
        let node = leases?.policy.node
        return try await client.withTransaction(logger: logger) { connection -> [ClaimedDelivery] in
            try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(endpoint.rawValue)))", logger: logger)
            try await Self.settle(settling, at: now, on: connection, logger: logger)
            let candidates = try await Self.claimableIDs(endpoint: endpoint, now: now, limit: limit, on: connection, logger: logger)
            guard !candidates.isEmpty else { return [] }
            try await connection.query(
                """
                UPDATE webhook_deliveries SET state = 'delivering', updated_at = \(now.millisecondsSinceEpoch), claimed_by = \(node)
                WHERE id = ANY(\(candidates))
                """,
                logger: logger)
            var claimed: [ClaimedDelivery] = []
            for try await row in try await connection.query(
                "\(unescaped: Self.deliverySelect) WHERE d.id = ANY(\(candidates)) ORDER BY d.event_seq", logger: logger)
            {
                let row = row.makeRandomAccess()
                guard let payload = try row["payload"].decode(ByteBuffer?.self) else {
                    throw StoreError.corruptRow("claimed delivery without an event")
                }
                claimed.append(
                    ClaimedDelivery(
                        delivery: try WebhookDelivery(row: row), secret: try row.text("secret"), payload: Array(payload.readableBytesView)))
            }
            return claimed
        }
    }

    public func completeDeliveries(_ completions: [DeliveryCompletion]) async throws {
        guard !completions.isEmpty else { return }
        let logger = logger
        try await client.withTransaction(logger: logger) { connection in
            try await Self.settle(DeliverySettlement(completions: completions), at: .now(), on: connection, logger: logger)
        }
    }

    public func releaseDelivery(_ id: DeliveryID, at time: Timestamp) async throws {
        let logger = logger
        try await client.withTransaction(logger: logger) { connection in
            try await Self.settle(DeliverySettlement(released: [id]), at: time, on: connection, logger: logger)
        }
    }

    public func outboxDepth() async throws -> Int {
        try await first("SELECT COUNT(*) FROM webhook_deliveries WHERE state IN ('pending', 'delivering')") { try $0[0].decode(Int.self) } ?? 0
    }

    public func deliveryBacklog(endpoint: WebhookEndpointID, now: Timestamp) async throws -> DeliveryBacklog {
        try await first(
            """
            SELECT COUNT(*), MIN(CASE WHEN next_attempt_at > \(now.millisecondsSinceEpoch) THEN next_attempt_at END)
            FROM webhook_deliveries WHERE endpoint_id = \(endpoint.rawValue) AND state = 'pending'
            """
        ) { row in
            DeliveryBacklog(
                pending: try row[0].decode(Int.self), nextDueAt: try row[1].decode(Int64?.self).map { Timestamp(millisecondsSinceEpoch: $0) })
        } ?? DeliveryBacklog(pending: 0, nextDueAt: nil)
    }

    /// Logs each completion's attempt and moves its delivery to the outcome's state; returns the
    /// released deliveries to the queue as they were (no attempt counted, due time kept).
    private static func settle(_ settlement: DeliverySettlement, at time: Timestamp, on connection: PostgresConnection, logger: Logger) async throws {
        for completion in settlement.completions {
            let (state, nextAttempt): (DeliveryState, Int64?) =
                switch completion.outcome {
                case .succeeded: (.succeeded, nil)
                case .failed: (.failed, nil)
                case .retry(let time): (.pending, time.millisecondsSinceEpoch)
                }
            let attempt = completion.attempt
            try await connection.query(
                """
                UPDATE webhook_deliveries SET state = \(state.rawValue), attempts = \(attempt.number), round_attempts = round_attempts + 1,
                    next_attempt_at = \(nextAttempt), last_status = \(attempt.statusCode), last_error = \(attempt.error),
                    updated_at = \(attempt.at.millisecondsSinceEpoch)
                WHERE id = \(completion.id.rawValue)
                """,
                logger: logger)
            try await connection.query(
                """
                INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, error, latency_ms)
                VALUES (\(completion.id.rawValue), \(attempt.number), \(attempt.at.millisecondsSinceEpoch), \(attempt.statusCode),
                    \(attempt.error), \(attempt.latencyMilliseconds))
                """,
                logger: logger)
        }
        for id in settlement.released {
            try await connection.query(
                """
                UPDATE webhook_deliveries SET state = 'pending', updated_at = \(time.millisecondsSinceEpoch)
                WHERE id = \(id.rawValue) AND state = 'delivering'
                """,
                logger: logger)
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
        if let state = query.state {
            return try await all(
                """
                \(unescaped: Self.deliveryListSelect) WHERE d.session_id = \(query.sessionID.rawValue) AND d.state = \(state.rawValue)
                ORDER BY d.event_seq DESC, d.id LIMIT \(query.limit)
                """,
                WebhookDelivery.init(row:))
        }
        return try await all(
            """
            \(unescaped: Self.deliveryListSelect) WHERE d.session_id = \(query.sessionID.rawValue)
            ORDER BY d.event_seq DESC, d.id LIMIT \(query.limit)
            """,
            WebhookDelivery.init(row:))
    }

    public func webhookDelivery(id: DeliveryID) async throws -> WebhookDelivery? {
        try await first("\(unescaped: Self.deliveryListSelect) WHERE d.id = \(id.rawValue)", WebhookDelivery.init(row:))
    }

    public func webhookAttempts(of id: DeliveryID) async throws -> [WebhookAttempt] {
        try await all("SELECT * FROM webhook_attempts WHERE delivery_id = \(id.rawValue) ORDER BY attempt") { row in
            WebhookAttempt(
                number: try row["attempt"].decode(Int.self),
                at: try row.timestamp("at") ?? Timestamp(millisecondsSinceEpoch: 0),
                statusCode: try row["status_code"].decode(Int?.self),
                error: try row.optionalText("error"),
                latencyMilliseconds: try row["latency_ms"].decode(Int.self)
            )
        }
    }

    public func webhookPayload(of id: DeliveryID) async throws -> [UInt8]? {
        try await first("SELECT ev.payload FROM webhook_deliveries d JOIN events ev ON ev.seq = d.event_seq WHERE d.id = \(id.rawValue)") {
            row in try row[0].decode(ByteBuffer.self)
        }.map { Array($0.readableBytesView) }
    }

    public func redeliver(_ id: DeliveryID, at time: Timestamp) async throws -> RedeliveryResult {
        let logger = logger
        let result = try await client.withTransaction(logger: logger) { connection -> RedeliveryResult in
            var found: (state: DeliveryState, endpointDisabled: Bool)?
            for try await row in try await connection.query(
                """
                SELECT d.state, ep.disabled_at FROM webhook_deliveries d JOIN webhook_endpoints ep ON ep.id = d.endpoint_id
                WHERE d.id = \(id.rawValue) FOR UPDATE OF d
                """,
                logger: logger)
            {
                let row = row.makeRandomAccess()
                found = (state: try row.value("state"), endpointDisabled: try row.timestamp("disabled_at") != nil)
            }
            guard let found else { return .notFound }
            guard !found.endpointDisabled else { return .endpointRemoved }
            guard found.state == .failed || found.state == .succeeded else { return .alreadyQueued(found.state) }
            try await connection.query(
                """
                UPDATE webhook_deliveries SET state = 'pending', round_attempts = 0, next_attempt_at = \(time.millisecondsSinceEpoch),
                    updated_at = \(time.millisecondsSinceEpoch)
                WHERE id = \(id.rawValue)
                """,
                logger: logger)
            var updated: WebhookDelivery?
            for try await row in try await connection.query(
                "\(unescaped: Self.deliveryListSelect) WHERE d.id = \(id.rawValue)", logger: logger)
            {
                updated = try WebhookDelivery(row: row.makeRandomAccess())
            }
            guard let updated else { return .notFound }
            return .queued(updated)
        }
        if case .queued = result { deliveryBell.ring() }
        return result
    }

    public func redeliverFailed(session: SessionID, at time: Timestamp) async throws -> Int {
        let count = try await all(
            """
            UPDATE webhook_deliveries SET state = 'pending', round_attempts = 0, next_attempt_at = \(time.millisecondsSinceEpoch),
                updated_at = \(time.millisecondsSinceEpoch)
            WHERE session_id = \(session.rawValue) AND state = 'failed'
                AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE session_id = \(session.rawValue) AND disabled_at IS NULL)
            RETURNING id
            """
        ) { _ in () }.count
        if count > 0 { deliveryBell.ring() }
        return count
    }
}

/// A saved endpoint and whether saving created it, out of the transaction.
struct SavedEndpoint: Sendable {
    let endpoint: WebhookEndpoint
    let created: Bool
}

extension WebhookEndpoint {
    init(row: PostgresRandomAccessRow) throws {
        self.init(
            id: WebhookEndpointID(rawValue: try row.text("id")),
            sessionID: SessionID(rawValue: try row.text("session_id")),
            url: try row.text("url"),
            secret: try row.text("secret"),
            events: try row.optionalText("events").map { $0.split(separator: ",").map(String.init) },
            createdAt: try row.timestamp("created_at") ?? Timestamp(millisecondsSinceEpoch: 0),
            updatedAt: try row.timestamp("updated_at") ?? Timestamp(millisecondsSinceEpoch: 0),
            disabledAt: try row.timestamp("disabled_at")
        )
    }
}

extension WebhookDelivery {
    init(row: PostgresRandomAccessRow) throws {
        self.init(
            id: DeliveryID(rawValue: try row.text("id")),
            eventSeq: try row["event_seq"].decode(Int64.self),
            eventType: try row.text("event_type"),
            conversation: try row.optionalText("conversation") ?? "",
            endpointID: WebhookEndpointID(rawValue: try row.text("endpoint_id")),
            url: try row.text("url"),
            sessionID: SessionID(rawValue: try row.text("session_id")),
            state: try row.value("state"),
            attempts: try row["attempts"].decode(Int.self),
            roundAttempts: try row["round_attempts"].decode(Int.self),
            nextAttemptAt: try row.timestamp("next_attempt_at"),
            lastStatus: try row["last_status"].decode(Int?.self),
            lastError: try row.optionalText("last_error"),
            createdAt: try row.timestamp("created_at") ?? Timestamp(millisecondsSinceEpoch: 0),
            updatedAt: try row.timestamp("updated_at") ?? Timestamp(millisecondsSinceEpoch: 0)
        )
    }
}
