import Foundation

/// Admin and sandbox calls the webhook tests share.
extension TestGateway {
    /// Registers a webhook for `session` (the gateway's own by default); returns its id.
    @discardableResult
    func addWebhook(url: String, secret: String = "test_secret_key_123", events: [String]? = nil, session: String? = nil) async throws -> String {
        var body: [String: Any] = ["url": url, "secret": secret]
        if let events { body["events"] = events }
        let reply = try await post("/admin/api/sessions/\(session ?? sessionID)/webhooks", Self.json(body), auth: .admin)
        guard reply.status == 201 || reply.status == 200, let id = try reply.data["webhook_id"] as? String else {
            throw TestFailure("adding a webhook: \(reply.status) \(reply.text)")
        }
        return id
    }

    /// A simulated incoming WhatsApp message, through the sandbox endpoint.
    func receive(_ text: String, from phone: String = "+60123456789", apiKey: String? = nil) async throws {
        let reply = try await post(
            "/api/sandbox/incoming", Self.json(["phone": phone, "message": text, "name": "John Doe"]),
            auth: apiKey.map { .bearer($0) } ?? .apiKey
        )
        guard reply.status == 200 else { throw TestFailure("sandbox incoming: \(reply.status) \(reply.text)") }
    }

    func deliveries(session: String? = nil, state: String? = nil) async throws -> [[String: Any]] {
        let query = state.map { "?state=\($0)" } ?? ""
        let reply = try await get("/admin/api/sessions/\(session ?? sessionID)/deliveries\(query)", auth: .admin)
        guard reply.status == 200 else { throw TestFailure("deliveries: \(reply.status) \(reply.text)") }
        return try reply.json["data"] as? [[String: Any]] ?? []
    }

    /// `{"delivery": {…}, "body": "…", "attempt_log": [{…}]}`
    func delivery(_ id: String) async throws -> [String: Any] {
        let reply = try await get("/admin/api/deliveries/\(id)", auth: .admin)
        guard reply.status == 200 else { throw TestFailure("delivery \(id): \(reply.status) \(reply.text)") }
        return try reply.data
    }

    /// A second sandbox session, connected; returns its id and API key.
    func connectedSession(named name: String) async throws -> (sessionID: String, apiKey: String) {
        let created = try await post("/admin/api/sessions", Self.json(["kind": "sandbox", "name": name]), auth: .admin)
        guard created.status == 201,
            let key = try created.data["api_key"] as? String,
            let id = (try created.data["session"] as? [String: Any])?["session_id"] as? String
        else { throw TestFailure("creating a session: \(created.status) \(created.text)") }
        _ = try await get("/api/qr", auth: .bearer(key))
        let scan = try await post("/api/sandbox/scan", auth: .bearer(key))
        guard scan.status == 200 else { throw TestFailure("scan: \(scan.status) \(scan.text)") }
        return (id, key)
    }

    static func json(_ object: [String: Any]) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: object)) ?? Data(), as: UTF8.self)
    }
}
