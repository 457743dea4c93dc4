import BuzzBridgeCore
import BuzzBridgeStorage
import Foundation
import Hummingbird

/// `/admin/api`: a session's webhook endpoints and its delivery log.
struct WebhookAdminRoutes {
    let store: any GatewayStore & WebhookStore
    let urlPolicy: WebhookURLPolicy

    func register(on admin: RouterGroup<GatewayRequestContext>) {
        admin.get("sessions/:session_id/webhooks", use: listEndpoints)
        admin.post("sessions/:session_id/webhooks", use: saveEndpoint)
        admin.delete("webhooks/:webhook_id", use: removeEndpoint)
        admin.get("sessions/:session_id/deliveries", use: listDeliveries)
        admin.post("sessions/:session_id/deliveries/redeliver-failed", use: redeliverFailed)
        admin.get("deliveries/:delivery_id", use: showDelivery)
        admin.post("deliveries/:delivery_id/redeliver", use: redeliver)
    }

    // MARK: Representations

    struct EndpointRepresentation: Encodable, Sendable {
        let endpoint: WebhookEndpoint
        enum CodingKeys: String, CodingKey {
            case webhookID = "webhook_id", sessionID = "session_id", url, events, secretHint = "secret_hint", active
            case createdAt = "created_at", updatedAt = "updated_at"
        }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(endpoint.id.rawValue, forKey: .webhookID)
            try container.encode(endpoint.sessionID.rawValue, forKey: .sessionID)
            try container.encode(endpoint.url, forKey: .url)
            try container.encode(endpoint.events, forKey: .events)
            try container.encode(WebhookSecret.hint(endpoint.secret), forKey: .secretHint)
            try container.encode(endpoint.disabledAt == nil, forKey: .active)
            try container.encode(endpoint.createdAt.iso8601, forKey: .createdAt)
            try container.encode(endpoint.updatedAt.iso8601, forKey: .updatedAt)
        }
    }

    struct DeliveryRepresentation: Encodable, Sendable {
        let delivery: WebhookDelivery
        enum CodingKeys: String, CodingKey {
            case deliveryID = "delivery_id", sessionID = "session_id", webhookID = "webhook_id", url, event, eventSeq = "event_seq"
            case state, attempts, nextAttemptAt = "next_attempt_at", lastStatus = "last_status", lastError = "last_error"
            case createdAt = "created_at", updatedAt = "updated_at"
        }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(delivery.id.rawValue, forKey: .deliveryID)
            try container.encode(delivery.sessionID.rawValue, forKey: .sessionID)
            try container.encode(delivery.endpointID.rawValue, forKey: .webhookID)
            try container.encode(delivery.url, forKey: .url)
            try container.encode(delivery.eventType, forKey: .event)
            try container.encode(delivery.eventSeq, forKey: .eventSeq)
            try container.encode(delivery.state.rawValue, forKey: .state)
            try container.encode(delivery.attempts, forKey: .attempts)
            try container.encode(delivery.state == .pending ? delivery.nextAttemptAt.map(PreciseTime.format) : nil, forKey: .nextAttemptAt)
            try container.encode(delivery.lastStatus, forKey: .lastStatus)
            try container.encode(delivery.lastError, forKey: .lastError)
            try container.encode(PreciseTime.format(delivery.createdAt), forKey: .createdAt)
            try container.encode(PreciseTime.format(delivery.updatedAt), forKey: .updatedAt)
        }
    }

    struct AttemptRepresentation: Encodable, Sendable {
        let attempt: WebhookAttempt
        enum CodingKeys: String, CodingKey {
            case attempt, at, statusCode = "status_code", error, latencyMS = "latency_ms"
        }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(attempt.number, forKey: .attempt)
            try container.encode(PreciseTime.format(attempt.at), forKey: .at)
            try container.encode(attempt.statusCode, forKey: .statusCode)
            try container.encode(attempt.error, forKey: .error)
            try container.encode(attempt.latencyMilliseconds, forKey: .latencyMS)
        }
    }

    struct DeliveryDetail: Encodable, Sendable {
        let delivery: DeliveryRepresentation
        let body: String
        let attempts: [AttemptRepresentation]
        enum CodingKeys: String, CodingKey { case delivery, body, attempts = "attempt_log" }
    }

    struct RedeliveredCount: Encodable, Sendable {
        let redelivered: Int
    }

    // MARK: Endpoints

    private func session(_ context: GatewayRequestContext) async throws -> Session {
        let id = SessionID(rawValue: try context.parameters.require("session_id"))
        guard let session = try await store.session(id) else {
            throw APIError(.notFound, "Session not found", details: ["session_id": id.rawValue])
        }
        return session
    }

    @Sendable func listEndpoints(request: Request, context: GatewayRequestContext) async throws -> Success<[EndpointRepresentation]> {
        let session = try await session(context)
        return Success(try await store.webhookEndpoints(session: session.id).map(EndpointRepresentation.init))
    }

    /// Creates an endpoint, or updates the secret and events of the one with the same URL.
    @Sendable func saveEndpoint(request: Request, context: GatewayRequestContext) async throws -> Success<EndpointRepresentation> {
        let session = try await session(context)
        let body = try await EndpointInput.read(request, context: context)
        let url = body.url
        if let problem = await urlPolicy.check(url) { throw APIError.invalid("url", problem.description) }
        let secret = body.secret
        if let problem = WebhookSecret.problem(secret) { throw APIError.invalid("secret", problem) }
        let events = body.events
        if let problem = WebhookEventFilter.problem(events) { throw APIError.invalid("events", problem) }
        let (endpoint, created) = try await store.saveWebhookEndpoint(session: session.id, url: url, secret: secret, events: events, at: .now())
        return Success(
            EndpointRepresentation(endpoint: endpoint), message: created ? "Webhook created" : "Webhook updated",
            status: created ? .created : .ok
        )
    }

    @Sendable func removeEndpoint(request: Request, context: GatewayRequestContext) async throws -> Success<EndpointRepresentation> {
        let id = WebhookEndpointID(rawValue: try context.parameters.require("webhook_id"))
        guard try await store.removeWebhookEndpoint(id: id, at: .now()), let endpoint = try await store.webhookEndpoint(id: id) else {
            throw APIError(.notFound, "Webhook not found or already removed", details: ["webhook_id": id.rawValue])
        }
        return Success(EndpointRepresentation(endpoint: endpoint), message: "Webhook removed")
    }

    // MARK: Deliveries

    @Sendable func listDeliveries(request: Request, context: GatewayRequestContext) async throws -> Success<[DeliveryRepresentation]> {
        let session = try await session(context)
        let query = QueryInput(request: request)
        let state: DeliveryState? = query.raw("state") == nil ? nil : try query.choice("state", default: DeliveryState.pending)
        let limit = try query.integer("limit", default: 50, in: 1...500)
        let deliveries = try await store.webhookDeliveries(DeliveryQuery(sessionID: session.id, state: state, limit: limit))
        return Success(deliveries.map(DeliveryRepresentation.init))
    }

    private func delivery(_ context: GatewayRequestContext) async throws -> WebhookDelivery {
        let id = DeliveryID(rawValue: try context.parameters.require("delivery_id"))
        guard let delivery = try await store.webhookDelivery(id: id) else {
            throw APIError(.notFound, "Delivery not found", details: ["delivery_id": id.rawValue])
        }
        return delivery
    }

    @Sendable func showDelivery(request: Request, context: GatewayRequestContext) async throws -> Success<DeliveryDetail> {
        let delivery = try await delivery(context)
        let body = try await store.webhookPayload(of: delivery.id) ?? []
        let attempts = try await store.webhookAttempts(of: delivery.id)
        return Success(
            DeliveryDetail(
                delivery: DeliveryRepresentation(delivery: delivery), body: String(decoding: body, as: UTF8.self),
                attempts: attempts.map(AttemptRepresentation.init)
            ))
    }

    @Sendable func redeliver(request: Request, context: GatewayRequestContext) async throws -> Success<DeliveryRepresentation> {
        let id = DeliveryID(rawValue: try context.parameters.require("delivery_id"))
        switch try await store.redeliver(id, at: .now()) {
        case .queued(let delivery):
            return Success(DeliveryRepresentation(delivery: delivery), message: "Delivery queued again", status: .accepted)
        case .notFound:
            throw APIError(.notFound, "Delivery not found", details: ["delivery_id": id.rawValue])
        case .alreadyQueued(let state):
            throw APIError(.validationError, "Delivery is already queued", details: ["delivery_id": "is \(state.rawValue)"])
        case .endpointRemoved:
            throw APIError(.validationError, "The delivery's webhook was removed", details: ["delivery_id": "its webhook was removed"])
        }
    }

    @Sendable func redeliverFailed(request: Request, context: GatewayRequestContext) async throws -> Success<RedeliveredCount> {
        let session = try await session(context)
        let count = try await store.redeliverFailed(session: session.id, at: .now())
        return Success(RedeliveredCount(redelivered: count), message: "Failed deliveries queued again", status: .accepted)
    }
}

/// `{"url": "https://…", "secret": "…", "events": ["message.received", …]}`; `events` may be
/// left out (or null) for all events, or given as one comma-separated string.
struct EndpointInput {
    let url: String
    let secret: String
    let events: [String]?

    static func read(_ request: Request, context: GatewayRequestContext) async throws -> EndpointInput {
        let body = try await JSONObjectInput.read(request, context: context, fields: ["url", "secret", "events"])
        let events: [String]?
        if body.isString("events"), let text = try body.string("events") {
            events = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        } else {
            events = try body.strings("events")
        }
        return EndpointInput(url: try body.requiredString("url"), secret: try body.requiredString("secret"), events: events)
    }
}

/// Rules shared by the admin API and the CLI.
public enum WebhookSecret {
    public static func problem(_ secret: String) -> String? {
        (1...256).contains(secret.utf8.count) ? nil : "must be 1 to 256 bytes"
    }

    /// Enough to recognise a secret, too little to use it.
    static func hint(_ secret: String) -> String {
        secret.count >= 12 ? String(secret.prefix(4)) + "…" : "…"
    }
}

public enum WebhookEventFilter {
    public static let eventTypes = WebhookEvents.all

    /// nil (all events) or a non-empty list of known event types.
    public static func problem(_ events: [String]?) -> String? {
        guard let events else { return nil }
        guard !events.isEmpty else { return "must list at least one event, or be left out for all" }
        let unknown = events.filter { !eventTypes.contains($0) }
        return unknown.isEmpty ? nil : "must be among: " + eventTypes.joined(separator: ", ")
    }
}

/// `2025-10-05T14:25:30.123Z`: the delivery log needs the milliseconds the API's timestamps drop.
enum PreciseTime {
    static func format(_ time: Timestamp) -> String {
        let whole = time.iso8601
        let milliseconds = ((time.millisecondsSinceEpoch % 1000) + 1000) % 1000
        let digits = String(milliseconds)
        return whole.dropLast() + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
    }
}
