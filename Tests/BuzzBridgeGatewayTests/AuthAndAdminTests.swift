import Foundation
import Testing

@Suite("API keys, the admin API and isolation between sessions")
struct AuthAndAdminTests {
    @Test func missingMalformedUnknownAndWrongSchemeKeysAreUnauthorized() async throws {
        let gateway = try await TestGateway.start()
        let forged = "bzb_test_" + String(gateway.apiKey.dropFirst("bzb_test_".count).prefix(12)) + String(repeating: "x", count: 20)
        let attempts: [TestGateway.Auth] = [
            .none, .bearer(""), .bearer("bzb_test_short"), .bearer("bzb_test_" + String(repeating: "A", count: 32)),
            .bearer(forged), .bearer(gateway.adminToken), .bearer(gateway.apiKey.replacingOccurrences(of: "bzb_test_", with: "bzb_live_")),
        ]
        for auth in attempts {
            let reply = try await gateway.get("/api/session/status", auth: auth)
            #expect(reply.status == 401, "\(auth)")
            #expect(reply.errorCode == "UNAUTHORIZED", "\(auth)")
        }
        let basic = try await gateway.request(.GET, "/api/session/status", auth: .none, headers: [("Authorization", "Basic \(gateway.apiKey)")])
        #expect(basic.status == 401)
        #expect(try await gateway.get("/api/session/status").status == 200)
        try await gateway.discard()
    }

    @Test func theSchemeIsMatchedWithoutRegardToCase() async throws {
        let gateway = try await TestGateway.start()
        // RFC 9110: the scheme's case does not matter; a near miss of it is refused.
        for scheme in ["bearer", "BEARER", "bEaReR"] {
            let reply = try await gateway.request(
                .GET, "/api/session/status", auth: .none, headers: [("Authorization", "\(scheme) \(gateway.apiKey)")])
            #expect(reply.status == 200, "\(scheme)")
        }
        for scheme in ["Bearex", "Bearers", "Beare", "Bearer:", "Bear\u{00C9}r"] {
            let reply = try await gateway.request(
                .GET, "/api/session/status", auth: .none, headers: [("Authorization", "\(scheme) \(gateway.apiKey)")])
            #expect(reply.status == 401, "\(scheme)")
        }
        try await gateway.discard()
    }

    @Test func unknownRoutesAreNotFoundInTheEnvelope() async throws {
        let gateway = try await TestGateway.start()
        for path in ["/api/nothing", "/nothing", "/api/messages/msg_x/unread"] {
            let reply = try await gateway.get(path)
            #expect(reply.status == 404, "\(path)")
            #expect(reply.errorCode == "NOT_FOUND", "\(path)")
        }
        try await gateway.discard()
    }

    @Test func rotationRevocationAndRegenerationThroughTheAdminAPI() async throws {
        let gateway = try await TestGateway.start()
        #expect(try await gateway.get("/admin/api/sessions", auth: .apiKey).status == 401)
        #expect(try await gateway.get("/admin/api/sessions", auth: .none).errorCode == "UNAUTHORIZED")

        let created = try await gateway.post("/admin/api/sessions/\(gateway.sessionID)/keys", #"{"label":"rotation"}"#, auth: .admin)
        #expect(created.status == 201)
        let newKey = try #require(try created.data["api_key"] as? String)
        #expect(newKey.hasPrefix("bzb_test_") && newKey.count == "bzb_test_".count + 32)
        // Both keys work during the rotation.
        #expect(try await gateway.get("/api/session/status", auth: .bearer(newKey)).status == 200)
        #expect(try await gateway.get("/api/session/status").status == 200)

        let listed = try await gateway.get("/admin/api/sessions/\(gateway.sessionID)/keys", auth: .admin)
        let keys = try #require(try listed.json["data"] as? [[String: Any]])
        #expect(keys.count == 2)
        #expect(!listed.text.contains(newKey), "a listing never shows a whole key")
        #expect(!listed.text.contains(gateway.apiKey))
        let oldID = String(gateway.apiKey.dropFirst("bzb_test_".count).prefix(12))
        #expect(keys.contains { $0["key_id"] as? String == oldID && ($0["last_used_at"] is String) })

        let revoked = try await gateway.post("/admin/api/keys/\(oldID)/revoke", auth: .admin)
        #expect(revoked.status == 200)
        #expect(try revoked.data["active"] as? Bool == false)
        #expect(try await gateway.get("/api/session/status").errorCode == "UNAUTHORIZED")
        #expect(try await gateway.get("/api/session/status", auth: .bearer(newKey)).status == 200)
        #expect(try await gateway.post("/admin/api/keys/\(oldID)/revoke", auth: .admin).status == 404)

        let newID = String(newKey.dropFirst("bzb_test_".count).prefix(12))
        let regenerated = try await gateway.post("/admin/api/keys/\(newID)/regenerate", auth: .admin)
        let third = try #require(try regenerated.data["api_key"] as? String)
        #expect(try await gateway.get("/api/session/status", auth: .bearer(newKey)).status == 401)
        #expect(try await gateway.get("/api/session/status", auth: .bearer(third)).status == 200)
        try await gateway.discard()
    }

    @Test func keysSeeOnlyTheirOwnSessionsData() async throws {
        let gateway = try await TestGateway.start()
        try await gateway.connect()
        let incoming = try await gateway.post("/api/sandbox/incoming", #"{"phone":"+60123456789","message":"for session one"}"#)
        let messageID = try #require(try incoming.data["id"] as? String)

        let other = try await gateway.post("/admin/api/sessions", #"{"kind":"sandbox","name":"Second business"}"#, auth: .admin)
        #expect(other.status == 201)
        let otherKey = try #require(try other.data["api_key"] as? String)
        let otherSession = try #require((try other.data["session"] as? [String: Any])?["session_id"] as? String)
        #expect(otherSession != gateway.sessionID)

        let status = try await gateway.get("/api/session/status", auth: .bearer(otherKey)).data
        #expect(status["session_id"] as? String == otherSession)
        #expect(status["status"] as? String == "disconnected")
        let list = try await gateway.get("/api/messages", auth: .bearer(otherKey)).data
        #expect((list["messages"] as? [Any])?.isEmpty == true)
        #expect(try await gateway.post("/api/messages/\(messageID)/read", auth: .bearer(otherKey)).status == 404)
        #expect(try await gateway.get("/api/conversations/+60123456789", auth: .bearer(otherKey)).data["total_messages"] as? Int == 0)
        try await gateway.discard()
    }

    @Test func liveKeysCannotUseTheSandboxAndHaveNoEngineYet() async throws {
        let gateway = try await TestGateway.start()
        let live = try await gateway.post("/admin/api/sessions", #"{"kind":"live","name":"OFYS Support"}"#, auth: .admin)
        let liveKey = try #require(try live.data["api_key"] as? String)
        #expect(liveKey.hasPrefix("bzb_live_"))
        for path in ["/api/sandbox/scan", "/api/sandbox/drop", "/api/sandbox/incoming"] {
            let reply = try await gateway.post(path, #"{"phone":"+60123456789","message":"x"}"#, auth: .bearer(liveKey))
            #expect(reply.status == 403, "\(path)")
            #expect(reply.errorCode == "FORBIDDEN", "\(path)")
        }
        let qr = try await gateway.get("/api/qr", auth: .bearer(liveKey))
        #expect(qr.status == 503)
        #expect(qr.errorCode == "SERVICE_UNAVAILABLE")
        #expect(try await gateway.get("/api/session/status", auth: .bearer(liveKey)).status == 200)
        try await gateway.discard()
    }

    @Test func adminAPIValidatesItsInput() async throws {
        let gateway = try await TestGateway.start()
        let badKind = try await gateway.post("/admin/api/sessions", #"{"kind":"production"}"#, auth: .admin)
        #expect(badKind.errorDetails["kind"] != nil)
        #expect(try await gateway.get("/admin/api/sessions/session_nope", auth: .admin).status == 404)
        #expect(try await gateway.post("/admin/api/sessions/session_nope/keys", auth: .admin).status == 404)
        let sessions = try await gateway.get("/admin/api/sessions", auth: .admin)
        #expect((try sessions.json["data"] as? [[String: Any]])?.count == 1)
        try await gateway.discard()
    }
}

@Suite("Admin API key options")
struct AdminKeyOptionsTests {
    @Test func scopesOwnLimitAndExpiryThroughTheAdminAPI() async throws {
        let gateway = try await TestGateway.start()
        let created = try await gateway.post(
            "/admin/api/sessions/\(gateway.sessionID)/keys",
            #"{"label":"reader","scopes":["messages:read"],"rate_limit":3,"expires_in_days":30}"#, auth: .admin
        )
        #expect(created.status == 201)
        let reader = try #require(try created.data["api_key"] as? String)
        let summary = try #require(try created.data["key"] as? [String: Any])
        #expect(summary["scopes"] as? [String] == ["messages:read"])
        #expect(summary["rate_limit"] as? Int == 3)
        #expect(summary["expires_at"] is String)

        #expect(try await gateway.get("/api/messages", auth: .bearer(reader)).status == 200)
        let send = try await gateway.post("/api/messages/send", #"{"phone":"+60123456789","message":"hi"}"#, auth: .bearer(reader))
        #expect(send.status == 403)
        #expect(send.errorCode == "FORBIDDEN")
        #expect(try await gateway.get("/api/messages", auth: .bearer(reader)).status == 200, "third request of three")
        #expect(try await gateway.get("/api/messages", auth: .bearer(reader)).status == 429, "its own limit of 3 a minute")

        let defaults = try await gateway.post("/admin/api/sessions/\(gateway.sessionID)/keys", auth: .admin)
        let all = try #require((try defaults.data["key"] as? [String: Any])?["scopes"] as? [String])
        #expect(Set(all) == ["messages:read", "messages:send", "session:manage"])

        for (body, field) in [
            (#"{"scopes":["messages:write"]}"#, "scopes"), (#"{"scopes":[]}"#, "scopes"), (#"{"scopes":"messages:read"}"#, "scopes"),
            (#"{"rate_limit":0}"#, "rate_limit"), (#"{"rate_limit":1.5}"#, "rate_limit"), (#"{"expires_in_days":"soon"}"#, "expires_in_days"),
        ] {
            let reply = try await gateway.post("/admin/api/sessions/\(gateway.sessionID)/keys", body, auth: .admin)
            #expect(reply.status == 400, "\(body)")
            #expect(reply.errorDetails[field] != nil, "\(body) → \(reply.text)")
        }
        try await gateway.discard()
    }
}
