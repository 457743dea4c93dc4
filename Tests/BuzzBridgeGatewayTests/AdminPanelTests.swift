import BuzzBridgeCore
import BuzzBridgeGateway
import BuzzBridgeStorage
import Crypto
import Foundation
import NIOHTTP1
import Testing

@Suite("Admin panel: login, cookies, CSRF, keys through the real HTML forms")
struct AdminPanelTests {
    static let password = "correct horse battery staple"

    /// A browser's share of the work: cookies kept per name, forms posted url-encoded.
    final class Browser: @unchecked Sendable {
        let gateway: ConfiguredGateway
        var cookies: [String: String] = [:]
        var setCookieHeaders: [String] = []

        init(gateway: ConfiguredGateway) { self.gateway = gateway }

        func get(_ path: String) async throws -> TestGateway.Reply {
            try await send(.GET, path, body: nil)
        }

        func post(_ path: String, _ fields: [(String, String)]) async throws -> TestGateway.Reply {
            let body = fields.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&")
            return try await send(.POST, path, body: body)
        }

        private func send(_ method: HTTPMethod, _ path: String, body: String?) async throws -> TestGateway.Reply {
            var headers: [(String, String)] = []
            if !cookies.isEmpty { headers.append(("Cookie", cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; "))) }
            if body != nil { headers.append(("Content-Type", "application/x-www-form-urlencoded")) }
            var request = try await gateway.requestRaw(method, path, headers: headers, body: body)
            for (name, value) in request.headers where name.lowercased() == "set-cookie" {
                setCookieHeaders.append(value)
                let pair = value.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
                let cookieName = String(pair[0]), cookieValue = pair.count > 1 ? String(pair[1]) : ""
                if cookieValue.isEmpty || value.contains("Max-Age=0") { cookies[cookieName] = nil } else { cookies[cookieName] = cookieValue }
            }
            request = TestGateway.Reply(status: request.status, headers: request.headers, body: request.body)
            return request
        }

        static func encode(_ text: String) -> String {
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~")
            return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
        }

        /// The hidden CSRF field of the page's forms.
        static func csrf(in page: String) throws -> String {
            let marker = #"name="_csrf" value=""#
            guard let start = page.range(of: marker)?.upperBound, let end = page[start...].firstIndex(of: "\"") else {
                throw TestFailure("no CSRF field in page")
            }
            return String(page[start..<end])
        }

        func logIn(password: String = AdminPanelTests.password) async throws -> TestGateway.Reply {
            let form = try await get("/admin/login")
            return try await post("/admin/login", [("_csrf", try Self.csrf(in: form.text)), ("password", password)])
        }
    }

    static func start(security: SecurityConfiguration = .init()) async throws -> ConfiguredGateway {
        let gateway = try await ConfiguredGateway.start(security: security)
        try await AdminPassword(store: gateway.store).set(password)
        return gateway
    }

    @Test func loginNeedsThePasswordAndGivesAStrictHttpOnlyCookie() async throws {
        let gateway = try await Self.start()
        let browser = Browser(gateway: gateway)
        let outside = try await browser.get("/admin/keys")
        #expect(outside.status == 303)
        #expect(outside.header("Location") == "/admin/login")

        let wrong = try await browser.logIn(password: "not the password")
        #expect(wrong.status == 401)
        #expect(wrong.text.contains("Wrong password"))
        #expect(browser.cookies["bzb_admin_session"] == nil)

        let right = try await browser.logIn()
        #expect(right.status == 303)
        #expect(right.header("Location") == "/admin/sessions")
        let cookie = try #require(browser.setCookieHeaders.last { $0.hasPrefix("bzb_admin_session=") })
        #expect(cookie.contains("HttpOnly"))
        #expect(cookie.contains("SameSite=Strict"))
        #expect(!cookie.contains("Secure"), "plain HTTP on loopback: a Secure cookie would never come back")

        let sessions = try await browser.get("/admin/sessions")
        #expect(sessions.status == 200)
        #expect(sessions.header("Content-Type")?.hasPrefix("text/html") == true)
        #expect(sessions.text.contains("BuzzBridge Sandbox"))
        #expect(sessions.header("Content-Security-Policy")?.contains("frame-ancestors 'none'") == true)

        let logout = try await browser.post("/admin/logout", [("_csrf", try Browser.csrf(in: sessions.text))])
        #expect(logout.status == 303)
        #expect(try await browser.get("/admin/sessions").status == 303)
        try await gateway.discard()
    }

    @Test func formsWithoutTheRightCSRFTokenAreRejected() async throws {
        let gateway = try await Self.start()
        let browser = Browser(gateway: gateway)
        #expect(try await browser.logIn().status == 303)
        let page = try await browser.get("/admin/keys")
        let token = try Browser.csrf(in: page.text)
        let keysBefore = try await gateway.store.apiKeys(session: SessionID(rawValue: gateway.sessionID)).count
        for fields in [[("session_id", gateway.sessionID), ("scopes", "messages:read")], [("_csrf", "forged"), ("session_id", gateway.sessionID)]] {
            let refused = try await browser.post("/admin/keys", fields)
            #expect(refused.status == 403)
            #expect(refused.text.contains("CSRF"))
        }
        let keyID = String(gateway.apiKey.dropFirst("bzb_test_".count).prefix(12))
        #expect(try await browser.post("/admin/keys/\(keyID)/revoke", [("_csrf", "x" + token)]).status == 403)
        #expect(try await gateway.store.apiKeys(session: SessionID(rawValue: gateway.sessionID)).count == keysBefore)
        #expect(try await gateway.request(.GET, "/api/messages", bearer: gateway.apiKey).status == 200, "nothing was revoked")

        // The login form has its own double-submit token.
        let noCookie = Browser(gateway: gateway)
        #expect(try await noCookie.post("/admin/login", [("_csrf", token), ("password", Self.password)]).status == 403)
        try await gateway.discard()
    }

    @Test func createAndRevokeAKeyThroughTheForms() async throws {
        let gateway = try await Self.start()
        let browser = Browser(gateway: gateway)
        #expect(try await browser.logIn().status == 303)
        let token = try Browser.csrf(in: try await browser.get("/admin/keys").text)

        let created = try await browser.post(
            "/admin/keys",
            [
                ("_csrf", token), ("session_id", gateway.sessionID), ("label", "OFYS <production>"), ("scopes", "messages:read"),
                ("requests_per_minute", "30"), ("expires_in_days", "90"),
            ])
        #expect(created.status == 200)
        let marker = #"id="new-key">"#
        let start = try #require(created.text.range(of: marker)?.upperBound)
        let key = String(created.text[start...].prefix { $0 != "<" })
        #expect(key.hasPrefix("bzb_test_") && key.count == 41)
        #expect(created.text.contains(#"data-copy="new-key""#))

        let read = try await gateway.request(.GET, "/api/messages", bearer: key)
        #expect(read.status == 200)
        #expect(read.header("X-RateLimit-Limit") == "30")
        #expect(try await gateway.request(.POST, "/api/messages/send", bearer: key, body: #"{"phone":"+60123456789","message":"x"}"#).status == 403)

        let listing = try await browser.get("/admin/keys")
        #expect(!listing.text.contains(key), "the list never shows a whole key")
        #expect(listing.text.contains("OFYS &lt;production&gt;"), "labels are escaped")
        let keyID = String(key.dropFirst("bzb_test_".count).prefix(12))
        #expect(listing.text.contains(#"data-key-id="\#(keyID)""#))

        let revoked = try await browser.post("/admin/keys/\(keyID)/revoke", [("_csrf", token)])
        #expect(revoked.status == 303)
        #expect(try await gateway.request(.GET, "/api/messages", bearer: key).status == 401)
        let after = try await browser.get(try #require(revoked.header("Location")))
        #expect(after.text.contains("revoked"))

        // Regenerate the first-start key: a new one shown once, the old one dead.
        let oldID = String(gateway.apiKey.dropFirst("bzb_test_".count).prefix(12))
        let regenerated = try await browser.post("/admin/keys/\(oldID)/regenerate", [("_csrf", token)])
        let newStart = try #require(regenerated.text.range(of: marker)?.upperBound)
        let newKey = String(regenerated.text[newStart...].prefix { $0 != "<" })
        #expect(try await gateway.request(.GET, "/api/messages", bearer: newKey).status == 200)
        #expect(try await gateway.request(.GET, "/api/messages", bearer: gateway.apiKey).status == 401)
        try await gateway.discard()
    }

    @Test func sessionsWebhooksAndMessagesPagesWork() async throws {
        let gateway = try await Self.start()
        let browser = Browser(gateway: gateway)
        #expect(try await browser.logIn().status == 303)
        let token = try Browser.csrf(in: try await browser.get("/admin/sessions").text)

        // The session page shows a live QR code and the JSON it refreshes from.
        let session = try await browser.get("/admin/sessions/\(gateway.sessionID)")
        #expect(session.status == 200)
        #expect(session.text.contains("data:image/png;base64,"))
        let pairing = try await browser.get("/admin/sessions/\(gateway.sessionID)/pairing")
        let state = try #require(try JSONSerialization.jsonObject(with: pairing.body) as? [String: Any])
        #expect(state["status"] as? String == "pending")
        #expect((state["qr_code"] as? String)?.hasPrefix("data:image/png;base64,") == true)
        // Beside the QR code: link with the phone number, the code shown on the page it answers with.
        #expect(session.text.contains("/admin/sessions/\(gateway.sessionID)/pairing-code"))
        let linking = try await browser.post("/admin/sessions/\(gateway.sessionID)/pairing-code", [("_csrf", token), ("phone", "+60123456789")])
        #expect(linking.status == 200)
        let code = try #require(linking.text.firstMatch(of: /id="linking-code">([^<]+)</).map { String($0.output.1) })
        #expect(code.filter { $0 != "-" }.count == 8)
        #expect(linking.text.contains("For +60123456789"))
        let refused = try await browser.post("/admin/sessions/\(gateway.sessionID)/pairing-code", [("_csrf", token), ("phone", "hello")])
        #expect(refused.status == 400)
        #expect(try await gateway.request(.POST, "/api/sandbox/scan", bearer: gateway.apiKey).status == 200)
        let scanned =
            try JSONSerialization.jsonObject(with: try await browser.get("/admin/sessions/\(gateway.sessionID)/pairing").body) as? [String: Any]
        #expect(scanned?["status"] as? String == "active")
        #expect(scanned?["qr_code"] == nil || scanned?["qr_code"] is NSNull)

        _ = try await gateway.request(
            .POST, "/api/sandbox/incoming", bearer: gateway.apiKey, body: #"{"phone":"+60123456789","message":"<b>hello</b> panel"}"#)
        let messages = try await browser.get("/admin/messages?session_id=\(gateway.sessionID)&direction=incoming")
        #expect(messages.text.contains("&lt;b&gt;hello&lt;/b&gt; panel"))

        let webhook = try await browser.post(
            "/admin/webhooks",
            [
                ("_csrf", token), ("session_id", gateway.sessionID), ("url", "http://127.0.0.1:9/hook"), ("secret", "s3cret-for-tests"),
                ("events", "message.received"),
            ])
        #expect(webhook.status == 303)
        let endpoints = try await gateway.store.webhookEndpoints(session: SessionID(rawValue: gateway.sessionID))
        #expect(endpoints.map(\.url) == ["http://127.0.0.1:9/hook"])
        #expect(endpoints.first?.events == ["message.received"])
        let listed = try await browser.get("/admin/webhooks")
        #expect(listed.text.contains("http://127.0.0.1:9/hook"))
        #expect(listed.text.contains("Send test event"))

        let disconnect = try await browser.post("/admin/sessions/\(gateway.sessionID)/disconnect", [("_csrf", token)])
        #expect(disconnect.status == 303)
        #expect(try await gateway.store.session(SessionID(rawValue: gateway.sessionID))?.status == .disconnected)
        try await gateway.discard()
    }

    @Test func underTLSTheCookieIsSecure() async throws {
        let gateway = try await Self.start(security: try await ConfiguredGateway.testTLS())
        let browser = Browser(gateway: gateway)
        #expect(try await browser.logIn().status == 303)
        let cookie = try #require(browser.setCookieHeaders.last { $0.hasPrefix("bzb_admin_session=") })
        #expect(cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"))
        try await gateway.discard()
    }

    @Test func repeatedWrongPasswordsAreRateLimited() async throws {
        let gateway = try await Self.start(security: SecurityConfiguration(failedAuthPerMinute: 3))
        let browser = Browser(gateway: gateway)
        for _ in 1...3 { #expect(try await browser.logIn(password: "guess").status == 401) }
        let limited = try await browser.logIn()
        #expect(limited.status == 429)
        #expect(limited.header("Retry-After") != nil)
        try await gateway.discard()
    }
}

extension ConfiguredGateway {
    func requestRaw(_ method: HTTPMethod, _ path: String, headers: [(String, String)], body: String?) async throws -> TestGateway.Reply {
        var allHeaders = headers
        if body == nil, method == .POST { allHeaders.append(("Content-Length", "0")) }
        return try await request(method, path, bearer: nil, body: nil, headers: allHeaders, rawBody: body)
    }
}

@Suite("Admin panel and /docs: a strict Content-Security-Policy, notices only of the panel's choosing")
struct AdminPanelHeaderTests {
    /// Each `'sha256-…'` source of the policy's `directive`.
    static func hashes(in policy: String, directive: String) -> Set<String> {
        let entry = policy.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.first { $0.hasPrefix(directive + " ") } ?? ""
        return Set(entry.split(separator: " ").dropFirst().map(String.init).filter { $0.hasPrefix("'sha256-") })
    }

    /// The `'sha256-…'` source of every inline `<tag>` block of `html`, as a browser computes it.
    static func inlineHashes(of html: String, tag: String) -> Set<String> {
        Set(
            html.components(separatedBy: "<\(tag)>").dropFirst().compactMap { $0.components(separatedBy: "</\(tag)>").first }.map {
                "'sha256-" + Data(SHA256.hash(data: Data($0.utf8))).base64EncodedString() + "'"
            })
    }

    @Test func panelPagesAllowExactlyTheirOwnInlineStyleAndScript() async throws {
        let gateway = try await AdminPanelTests.start()
        let browser = AdminPanelTests.Browser(gateway: gateway)
        for page in [
            try await browser.get("/admin/login"),
            try await {
                _ = try await browser.logIn(); return try await browser.get("/admin/keys")
            }(),
        ] {
            let policy = try #require(page.header("Content-Security-Policy"))
            #expect(!policy.contains("unsafe-inline"))
            #expect(policy.contains("default-src 'none'") && policy.contains("frame-ancestors 'none'"))
            #expect(Self.hashes(in: policy, directive: "script-src") == Self.inlineHashes(of: page.text, tag: "script"))
            #expect(Self.hashes(in: policy, directive: "style-src") == Self.inlineHashes(of: page.text, tag: "style"))
            #expect(!page.text.contains("style=\""), "an inline style attribute would need 'unsafe-inline'")
            #expect(page.header("X-Frame-Options") == "DENY")
        }
        try await gateway.discard()
    }

    @Test func noticesAreCodesTheTextOfALinkNeverShows() async throws {
        let gateway = try await AdminPanelTests.start()
        let browser = AdminPanelTests.Browser(gateway: gateway)
        #expect(try await browser.logIn().status == 303)
        let forged = try await browser.get("/admin/webhooks?notice=Your+session+expired,+log+in+at+https://evil.example")
        #expect(forged.status == 200)
        #expect(!forged.text.contains("evil.example"))
        #expect(!forged.text.contains("role=\"status\""))
        let known = try await browser.get("/admin/keys?notice=key-revoked")
        #expect(known.text.contains("The key was revoked; it stopped working at once."))
        try await gateway.discard()
    }

    @Test func docsPageHasThePanelsHeadersAndItsStyleByHash() async throws {
        let gateway = try await AdminPanelTests.start()
        let docs = try await gateway.request(.GET, "/docs", bearer: nil)
        #expect(docs.status == 200)
        let policy = try #require(docs.header("Content-Security-Policy"))
        #expect(!policy.contains("unsafe-inline"))
        #expect(policy.contains("script-src 'none'"))
        #expect(Self.hashes(in: policy, directive: "style-src") == Self.inlineHashes(of: docs.text, tag: "style"))
        #expect(!docs.text.contains("style=\""))
        #expect(docs.header("X-Frame-Options") == "DENY")
        #expect(docs.header("X-Content-Type-Options") == "nosniff")
        try await gateway.discard()
    }
}

@Suite("Admin panel: webhook test events and redelivery through the forms")
struct AdminPanelWebhookTests {
    @Test func sendTestEventReachesTheReceiverSignedAndRedeliverRequeues() async throws {
        let gateway = try await AdminPanelTests.start()
        let receiver = try await WebhookReceiver.start()
        let browser = AdminPanelTests.Browser(gateway: gateway)
        #expect(try await browser.logIn().status == 303)
        let token = try AdminPanelTests.Browser.csrf(in: try await browser.get("/admin/webhooks").text)
        let secret = "panel-secret-0123456789"
        #expect(
            try await browser.post(
                "/admin/webhooks", [("_csrf", token), ("session_id", gateway.sessionID), ("url", receiver.url), ("secret", secret)]
            ).status == 303)
        let endpoint = try #require(try await gateway.store.webhookEndpoints(session: SessionID(rawValue: gateway.sessionID)).first)

        let tested = try await browser.post("/admin/webhooks/\(endpoint.id.rawValue)/test", [("_csrf", token)])
        // The outcome is shown on the page the form answers with, not carried in a URL.
        #expect(tested.status == 200)
        #expect(tested.text.contains("Test event sent to \(receiver.url): HTTP 200"))
        let request = try #require(try await receiver.waitForRequests(1).first)
        #expect(request.header("X-BuzzBridge-Event") == "webhook.test")
        #expect(request.json["event"] as? String == "webhook.test")
        let expected = WebhookSignature.headers(
            event: "webhook.test", deliveryID: try #require(request.header("X-BuzzBridge-Delivery")),
            timestamp: Timestamp(millisecondsSinceEpoch: (Int64(try #require(request.header("X-BuzzBridge-Timestamp"))) ?? 0) * 1000),
            body: request.body, secret: secret
        ).first { $0.0 == "X-Webhook-Signature" }?.1
        #expect(request.header("X-Webhook-Signature") == expected)

        // A real event, delivered, then queued again from the delivery log.
        #expect(try await gateway.request(.GET, "/api/qr", bearer: gateway.apiKey).status == 200)
        _ = try await receiver.waitForRequests(2)
        let delivered = try await gateway.store.webhookDeliveries(
            DeliveryQuery(sessionID: SessionID(rawValue: gateway.sessionID), state: nil, limit: 10))
        let first = try #require(delivered.first)
        var settled = first.state == .succeeded
        for _ in 0..<100 where !settled {
            try await Task.sleep(for: .milliseconds(50))
            settled = try await gateway.store.webhookDelivery(id: first.id)?.state == .succeeded
        }
        #expect(settled)
        let log = try await browser.get("/admin/webhooks")
        #expect(log.text.contains("/admin/deliveries/\(first.id.rawValue)/redeliver"))
        let redelivered = try await browser.post("/admin/deliveries/\(first.id.rawValue)/redeliver", [("_csrf", token)])
        #expect(redelivered.header("Location")?.contains("queued") == true)
        _ = try await receiver.waitForRequests(3)
        await receiver.stop()
        try await gateway.discard()
    }
}
