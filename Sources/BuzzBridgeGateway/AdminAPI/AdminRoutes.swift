import BuzzBridgeCore
import BuzzBridgeStorage
import Foundation
import Hummingbird

/// Only the admin token (`Authorization: Bearer bzb_admin_…`) passes.
struct AdminAuthenticator: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let provisioning: Provisioning
    let failures: FailedAuthLimiter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token = BearerToken.token(in: request),
            try await provisioning.isAdminToken(token)
        else { throw try await failures.refusal(APIError(.unauthorized, "Invalid or missing admin token"), request: request, context: context) }
        return try await next(request, context)
    }
}

/// `/admin/api`: sessions and their API keys, for operators and the admin panel.
struct AdminRoutes {
    let provisioning: Provisioning
    let hub: SessionHub

    func register(on admin: RouterGroup<GatewayRequestContext>) {
        admin.get("sessions", use: listSessions)
        admin.post("sessions", use: createSession)
        admin.get("sessions/:session_id", use: showSession)
        admin.patch("sessions/:session_id", use: updateSession)
        admin.get("sessions/:session_id/keys", use: listKeys)
        admin.post("sessions/:session_id/keys", use: createKey)
        admin.post("keys/:key_id/revoke", use: revokeKey)
        admin.post("keys/:key_id/regenerate", use: regenerateKey)
    }

    struct SessionSummary: Encodable, Sendable {
        let session: Session
        enum CodingKeys: String, CodingKey {
            case sessionID = "session_id", kind, name, status, phoneNumber = "phone_number", connectedAt = "connected_at"
            case lastActivity = "last_activity", createdAt = "created_at", pushName = "push_name"
        }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(session.id.rawValue, forKey: .sessionID)
            try container.encode(session.kind.rawValue, forKey: .kind)
            try container.encode(session.name, forKey: .name)
            try container.encode(session.status.rawValue, forKey: .status)
            try container.encode(session.phoneNumber?.e164, forKey: .phoneNumber)
            try container.encode(session.connectedAt?.iso8601, forKey: .connectedAt)
            try container.encode(session.lastActivity?.iso8601, forKey: .lastActivity)
            try container.encode(session.createdAt.iso8601, forKey: .createdAt)
            try container.encode(session.pushName, forKey: .pushName)
        }
    }

    struct KeySummary: Encodable, Sendable {
        let record: APIKeyRecord
        let kind: SessionKind
        enum CodingKeys: String, CodingKey {
            case keyID = "key_id", sessionID = "session_id", prefix, label, createdAt = "created_at", lastUsedAt = "last_used_at"
            case revokedAt = "revoked_at", active, scopes, rateLimit = "rate_limit", expiresAt = "expires_at"
        }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(record.id, forKey: .keyID)
            try container.encode(record.sessionID.rawValue, forKey: .sessionID)
            try container.encode(APIKeyFormat.displayPrefix(of: record, kind: kind), forKey: .prefix)
            try container.encode(record.label, forKey: .label)
            try container.encode(record.createdAt.iso8601, forKey: .createdAt)
            try container.encode(record.lastUsedAt?.iso8601, forKey: .lastUsedAt)
            try container.encode(record.revokedAt?.iso8601, forKey: .revokedAt)
            try container.encode(record.revokedAt == nil, forKey: .active)
            try container.encode(record.scopes.sorted().map(\.rawValue), forKey: .scopes)
            try container.encode(record.requestsPerMinute, forKey: .rateLimit)
            try container.encode(record.expiresAt?.iso8601, forKey: .expiresAt)
        }
    }

    /// The plaintext appears in this response and nowhere else, ever.
    struct NewKey: Encodable, Sendable {
        let apiKey: String
        let key: KeySummary
        enum CodingKeys: String, CodingKey { case apiKey = "api_key", key }
    }

    struct NewSession: Encodable, Sendable {
        let session: SessionSummary
        let apiKey: String
        enum CodingKeys: String, CodingKey { case session, apiKey = "api_key" }
    }

    @Sendable func listSessions(request: Request, context: GatewayRequestContext) async throws -> Success<[SessionSummary]> {
        Success(try await provisioning.store.sessions().map(SessionSummary.init))
    }

    @Sendable func createSession(request: Request, context: GatewayRequestContext) async throws -> Success<NewSession> {
        let body = try await JSONObjectInput.read(request, context: context, fields: ["kind", "name", "key_label"])
        let kindText = try body.string("kind", nullable: false) ?? SessionKind.sandbox.rawValue
        guard let kind = SessionKind(rawValue: kindText) else { throw APIError.invalid("kind", "must be one of: sandbox, live") }
        let name = try body.string("name") ?? (kind == .sandbox ? "BuzzBridge Sandbox" : "WhatsApp")
        guard !name.isEmpty, name.unicodeScalars.count <= 100 else { throw APIError.invalid("name", "must be 1 to 100 characters") }
        let session = try await provisioning.createSession(kind: kind, name: name)
        let issued = try await provisioning.issueKey(for: session.id, label: try body.string("key_label"))
        return Success(NewSession(session: SessionSummary(session: session), apiKey: issued.plaintext), message: "Session created", status: .created)
    }

    private func session(_ context: GatewayRequestContext) async throws -> Session {
        let id = SessionID(rawValue: try context.parameters.require("session_id"))
        guard let session = try await provisioning.store.session(id) else {
            throw APIError(.notFound, "Session not found", details: ["session_id": id.rawValue])
        }
        return session
    }

    @Sendable func showSession(request: Request, context: GatewayRequestContext) async throws -> Success<SessionSummary> {
        Success(SessionSummary(session: try await session(context)))
    }

    /// Renames a session or sets its push name: the name WhatsApp shows contacts, announced with
    /// presence (without one WhatsApp treats the device as inactive and its receipts as such).
    // Not optimised: swiftc 6.3.1 crashes (signal 11 in LLVM's coroutine splitting) optimising this
    // route for a release build, which README's first command makes. An admin edit gains nothing
    // from optimisation.
    @_optimize(none)
    @Sendable func updateSession(request: Request, context: GatewayRequestContext) async throws -> Success<SessionSummary> {
        var session = try await session(context)
        let body = try await JSONObjectInput.read(request, context: context, fields: ["name", "push_name"])
        let name = try body.string("name", nullable: false)
        let pushName = try body.string("push_name", nullable: false)
        guard name != nil || pushName != nil else { throw APIError.invalid("body", "must set name or push_name") }
        if let name {
            guard !name.isEmpty, name.count <= 100 else { throw APIError.invalid("name", "must be 1 to 100 characters") }
            session.name = name
        }
        if let pushName {
            let trimmed = pushName.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty, trimmed.count <= Self.maximumPushNameLength else {
                throw APIError.invalid("push_name", "must be 1 to \(Self.maximumPushNameLength) characters")
            }
            session.pushName = trimmed
        }
        // Only the fields set here change: the engine may be updating the same row meanwhile.
        let updated = try await provisioning.updateSession(session.id, name: session.name, pushName: session.pushName)
        if let pushName = updated.pushName, let engine = await hub.runningEngine(for: session.id) {
            do {
                try await engine.setPushName(pushName)
            } catch {
                throw APIError(error)
            }
        }
        return Success(SessionSummary(session: updated), message: "Session updated")
    }

    /// WhatsApp's own limit for a profile name.
    static let maximumPushNameLength = 25

    @Sendable func listKeys(request: Request, context: GatewayRequestContext) async throws -> Success<[KeySummary]> {
        let session = try await session(context)
        return Success(try await provisioning.keys(for: session.id).map { KeySummary(record: $0, kind: session.kind) })
    }

    @Sendable func createKey(request: Request, context: GatewayRequestContext) async throws -> Success<NewKey> {
        let session = try await session(context)
        var label: String?
        var scopes = Set(APIKeyScope.allCases)
        var requestsPerMinute: Int?
        var expiresAt: Timestamp?
        if let length = request.headers[.contentLength], length != "0" {
            let body = try await JSONObjectInput.read(request, context: context, fields: ["label", "scopes", "rate_limit", "expires_in_days"])
            label = try body.string("label")
            if let names = try body.strings("scopes", nullable: false) {
                guard Set(names).count == names.count else { throw APIError.invalid("scopes", "must not list a scope twice") }
                guard !names.isEmpty, let parsed = APIKeyScope.parseList(names.joined(separator: " ")) else {
                    throw APIError.invalid("scopes", "must list one or more of: " + APIKeyScope.allCases.map(\.rawValue).joined(separator: ", "))
                }
                scopes = parsed
            }
            requestsPerMinute = try body.integer("rate_limit", in: 1...100_000)
            if let days = try body.integer("expires_in_days", in: 1...3650) {
                expiresAt = Timestamp.now().adding(milliseconds: Int64(days) * 86_400_000)
            }
        }
        let issued = try await provisioning.issueKey(
            for: session.id, label: label, scopes: scopes, requestsPerMinute: requestsPerMinute, expiresAt: expiresAt
        )
        return Success(
            NewKey(apiKey: issued.plaintext, key: KeySummary(record: issued.record, kind: session.kind)), message: "API key created", status: .created
        )
    }

    @Sendable func revokeKey(request: Request, context: GatewayRequestContext) async throws -> Success<KeySummary> {
        let id = try context.parameters.require("key_id")
        guard try await provisioning.revokeKey(id), let record = try await provisioning.store.apiKey(id: id),
            let owner = try await provisioning.store.session(record.sessionID)
        else { throw APIError(.notFound, "API key not found or already revoked", details: ["key_id": id]) }
        return Success(KeySummary(record: record, kind: owner.kind), message: "API key revoked")
    }

    @Sendable func regenerateKey(request: Request, context: GatewayRequestContext) async throws -> Success<NewKey> {
        let id = try context.parameters.require("key_id")
        let issued: IssuedAPIKey
        do {
            issued = try await provisioning.regenerateKey(id)
        } catch let error as ProvisioningError {
            throw APIError(error)
        }
        guard let owner = try await provisioning.store.session(issued.record.sessionID) else { throw APIError.notFound }
        return Success(NewKey(apiKey: issued.plaintext, key: KeySummary(record: issued.record, kind: owner.kind)), message: "API key regenerated")
    }
}
