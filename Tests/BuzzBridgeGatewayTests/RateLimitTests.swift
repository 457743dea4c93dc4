import BuzzBridgeGateway
import Foundation
import Testing

@Suite("Rate limits: per key, per client address for failed authentication, send pacing")
struct RateLimitTests {
    @Test func theHundredAndFirstRequestInAMinuteIsRefusedWithTheHeaders() async throws {
        let gateway = try await ConfiguredGateway.start()
        let before = Int(Date().timeIntervalSince1970)
        for sent in 1...100 {
            // Errors count and carry the budget too: some requests are invalid, some for no route.
            let path = sent % 10 == 0 ? "/api/nothing" : (sent % 10 == 5 ? "/api/messages?limit=abc" : "/api/session/status")
            let reply = try await gateway.request(.GET, path, bearer: gateway.apiKey)
            #expect(reply.status == (sent % 10 == 0 ? 404 : (sent % 10 == 5 ? 400 : 200)), "request \(sent)")
            #expect(reply.header("X-RateLimit-Limit") == "100", "request \(sent)")
            #expect(reply.header("X-RateLimit-Remaining") == "\(100 - sent)", "request \(sent)")
            let reset = try #require(reply.header("X-RateLimit-Reset").flatMap(Int.init), "request \(sent)")
            #expect(reset >= before + 60 && reset <= Int(Date().timeIntervalSince1970) + 61, "request \(sent)")
        }
        let refused = try await gateway.request(.GET, "/api/session/status", bearer: gateway.apiKey)
        #expect(refused.status == 429)
        #expect(refused.errorCode == "RATE_LIMIT_EXCEEDED")
        #expect(try refused.json["success"] as? Bool == false)
        #expect(refused.header("X-RateLimit-Limit") == "100")
        #expect(refused.header("X-RateLimit-Remaining") == "0")
        #expect(refused.header("X-RateLimit-Reset") != nil)
        let retryAfter = try #require(refused.header("Retry-After").flatMap(Int.init))
        #expect((1...60).contains(retryAfter))

        // The budget belongs to the key: a second key of the same session has its own.
        let second = try await gateway.request(.POST, "/admin/api/sessions/\(gateway.sessionID)/keys", bearer: gateway.adminToken, body: "{}")
        let secondKey = try #require(try second.data["api_key"] as? String)
        let other = try await gateway.request(.GET, "/api/session/status", bearer: secondKey)
        #expect(other.status == 200)
        #expect(other.header("X-RateLimit-Remaining") == "99")
        try await gateway.discard()
    }

    @Test func theLimitIsConfigurable() async throws {
        let gateway = try await ConfiguredGateway.start(security: SecurityConfiguration(requestsPerMinute: 3))
        for _ in 1...3 { #expect(try await gateway.request(.GET, "/api/messages", bearer: gateway.apiKey).status == 200) }
        let refused = try await gateway.request(.GET, "/api/messages", bearer: gateway.apiKey)
        #expect(refused.status == 429)
        #expect(refused.header("X-RateLimit-Limit") == "3")
        try await gateway.discard()
    }

    @Test func failedAuthenticationIsLimitedPerClientAddress() async throws {
        let gateway = try await ConfiguredGateway.start(security: SecurityConfiguration(failedAuthPerMinute: 3))
        // Good requests do not use up the failure budget.
        for _ in 1...5 { #expect(try await gateway.request(.GET, "/api/session/status", bearer: gateway.apiKey).status == 200) }
        let guesses = ["bzb_test_" + String(repeating: "A", count: 32), "nonsense", "bzb_admin_wrong"]
        for guess in guesses {
            let reply = try await gateway.request(.GET, "/api/session/status", bearer: guess)
            #expect(reply.status == 401)
            #expect(reply.errorCode == "UNAUTHORIZED")
        }
        // Now a wrong or unknown credential from this address waits, on the API and the admin API alike…
        let blocked = try await gateway.request(.GET, "/api/session/status", bearer: "bzb_test_" + String(repeating: "B", count: 32))
        #expect(blocked.status == 429)
        #expect(blocked.errorCode == "RATE_LIMIT_EXCEEDED")
        #expect(blocked.header("Retry-After").flatMap(Int.init).map { (1...60).contains($0) } == true)
        #expect(try await gateway.request(.GET, "/admin/api/sessions", bearer: "bzb_admin_wrong").status == 429)
        // …but the valid API key and admin token from the same address are never locked out.
        #expect(try await gateway.request(.GET, "/api/session/status", bearer: gateway.apiKey).status == 200)
        #expect(try await gateway.request(.GET, "/admin/api/sessions", bearer: gateway.adminToken).status == 200)
        try await gateway.discard()
    }

    @Test func behindATrustedProxyTheForwardedAddressIsLimited() async throws {
        let gateway = try await ConfiguredGateway.start(security: SecurityConfiguration(failedAuthPerMinute: 2, trustProxy: true))
        let attacker: [(String, String)] = [("X-Forwarded-Proto", "https"), ("X-Forwarded-For", "198.51.100.7")]
        let customer: [(String, String)] = [("X-Forwarded-Proto", "https"), ("X-Forwarded-For", "203.0.113.9")]
        for _ in 1...2 { #expect(try await gateway.request(.GET, "/api/session/status", bearer: "wrong", headers: attacker).status == 401) }
        #expect(try await gateway.request(.GET, "/api/session/status", bearer: "wrong", headers: attacker).status == 429)
        #expect(try await gateway.request(.GET, "/api/session/status", bearer: "wrong", headers: customer).status == 401)
        #expect(try await gateway.request(.GET, "/api/session/status", bearer: gateway.apiKey, headers: attacker).status == 200)
        try await gateway.discard()
    }

    @Test func sendsArePacedPerSession() async throws {
        let pacing = SendPacingConfiguration(messagesPerMinute: 300, jitter: .zero ... .zero, queueLimit: 5, pacesSandbox: true)
        let gateway = try await ConfiguredGateway.start(security: SecurityConfiguration(sendPacing: pacing))
        #expect(try await gateway.request(.GET, "/api/qr", bearer: gateway.apiKey).status == 200)
        #expect(try await gateway.request(.POST, "/api/sandbox/scan", bearer: gateway.apiKey).status == 200)
        let start = ContinuousClock.now
        var sentAt: [ContinuousClock.Instant] = []
        for index in 1...3 {
            let reply = try await gateway.request(
                .POST, "/api/messages/send", bearer: gateway.apiKey, body: #"{"phone":"+60123456789","message":"paced \#(index)"}"#)
            #expect(reply.status == 200)
            sentAt.append(.now)
        }
        // 300 a minute is one slot per 200 ms: the third send cannot finish before 400 ms have passed.
        #expect(sentAt[2] - start >= .milliseconds(400))
        try await gateway.discard()
    }
}
