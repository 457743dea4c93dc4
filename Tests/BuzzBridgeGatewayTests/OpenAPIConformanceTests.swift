import BuzzBridgeCore
import BuzzBridgeGateway
import BuzzBridgeStorage
import Foundation
import NIOHTTP1
import TestSupport
import Testing

/// The published OpenAPI document against the running server: every endpoint is called for its
/// successes and each of its error classes, and every exchange is then checked by an independent
/// validator (openapi-core, `Tests/peers/openapi_check.py`), as are the webhook bodies the
/// server stored for delivery.
@Suite("OpenAPI conformance")
struct OpenAPIConformanceTests {
    @Test func everyEndpointAnswersAsTheDocumentSays() async throws {
        let receiver = try await WebhookReceiver.start()
        // Every endpoint's 401 is checked: more than the default ten failed attempts a minute come
        // before the lockout this walk checks last.
        let gateway = try await TestGateway.start(security: SecurityConfiguration(failedAuthPerMinute: 16))
        let api = ExchangeRecorder(gateway: gateway)
        let document = try await api.call(.GET, "/api/openapi.json", auth: .none, expect: 200)
        try await exerciseDocsAndAuthentication(api)
        let webhookID = try await exerciseWebhookRegistration(api, gateway, receiver: receiver)
        try await exerciseSession(api, gateway)
        try await exerciseMessages(api, gateway)
        try await exerciseSandboxAndLiveKeys(api)
        try await exerciseAdmin(api, gateway)
        try await api.call(.POST, "/api/session/disconnect", expect: 200)
        try await api.call(.POST, "/api/session/disconnect", expect: 200)
        try await exerciseDeliveryLog(api, gateway, receiver: receiver, webhookID: webhookID)
        try await exerciseKeyLimits(api, gateway)

        let deliveries = receiver.requests.map {
            DeliveredWebhook(
                event: $0.header("X-BuzzBridge-Event") ?? "", headers: $0.headers, body: String(decoding: $0.body, as: UTF8.self),
                secret: Self.webhookSecret)
        }
        await receiver.stop()
        try await gateway.stop()
        defer { try? FileManager.default.removeItem(atPath: gateway.dataDirectory) }
        let summary = try await OpenAPICheck.run(
            document: document.body, exchanges: await api.exchanges, webhooks: deliveries,
            eventsDatabase: (gateway.dataDirectory as NSString).appendingPathComponent("buzzbridge.sqlite")
        )
        // --require-coverage already fails on an operation never called; these show the check ran.
        #expect(summary.exchanges == (await api.exchanges.count))
        #expect(summary.webhooks >= 2 * deliveries.count - 1, "delivered bodies and stored events")
        #expect(deliveries.count >= 10)
    }

    @Test func documentIsServedAsOpenAPI31() async throws {
        let gateway = try await TestGateway.start()
        let reply = try await gateway.get("/api/openapi.json", auth: .none)
        #expect(reply.status == 200)
        #expect(reply.headers.contains { $0.0.lowercased() == "content-type" && $0.1.hasPrefix("application/json") })
        let document = try reply.json
        #expect((document["openapi"] as? String)?.hasPrefix("3.1.") == true)
        #expect((document["paths"] as? [String: Any])?["/api/messages/send"] != nil)
        #expect((document["webhooks"] as? [String: Any])?.keys.sorted() == ["message.received", "message.status", "session.status"])
        let shipped = try Data(contentsOf: PythonPeer.repositoryRoot.appendingPathComponent("Sources/BuzzBridgeGateway/Resources/openapi.json"))
        #expect(reply.body == shipped)
        try await gateway.discard()
    }

    @Test func docsPageIsSelfContainedHTML() async throws {
        let gateway = try await TestGateway.start()
        let reply = try await gateway.get("/docs", auth: .none)
        #expect(reply.status == 200)
        #expect(reply.headers.contains { $0.0.lowercased() == "content-type" && $0.1.hasPrefix("text/html") })
        let page = reply.text
        #expect(page.hasPrefix("<!DOCTYPE html>"))
        for needle in ["/api/messages/send", "/api/conversations/{phone}", "+60100000004", "hash_equals", "X-Webhook-Signature", "SESSION_INACTIVE"] {
            #expect(page.contains(needle), "docs page lacks \(needle)")
        }
        // The page is generated from the document: it must be what the document gives today.
        let generator = PythonPeer.repositoryRoot.appendingPathComponent("scripts/gen-api-docs")
        let freshness = try await ChildProcess.run(try PythonPeer.interpreter, arguments: [generator.path, "--check"])
        #expect(freshness.status == 0, "\(freshness.stderr)")
        // Served offline: nothing may be fetched from elsewhere.
        for external in ["<script src", "<link rel=\"stylesheet\" href=\"http", "@import", "src=\"http", "url(http"] {
            #expect(!page.contains(external), "docs page loads \(external)")
        }
        try await gateway.discard()
    }

    // MARK: Scenario

    private func exerciseDocsAndAuthentication(_ api: ExchangeRecorder) async throws {
        try await api.call(.GET, "/docs", auth: .none, expect: 200)
        try await api.call(.GET, "/healthz", auth: .none, expect: 200)
        try await api.call(.GET, "/readyz", auth: .none, expect: 200)
        try await api.call(.GET, "/metrics", auth: .admin, expect: 200)
        try await api.call(.GET, "/metrics", auth: .none, expect: 401, code: "UNAUTHORIZED")
        try await api.call(.GET, "/api/session/status", auth: .none, expect: 401, code: "UNAUTHORIZED")
        try await api.call(
            .GET, "/api/session/status", auth: .bearer("bzb_test_" + String(repeating: "A", count: 32)), expect: 401, code: "UNAUTHORIZED")
        try await api.call(.GET, "/api/messages", auth: .bearer("not-a-key"), expect: 401, code: "UNAUTHORIZED")
        try await api.call(.GET, "/api/nope", undocumented: true, expect: 404, code: "NOT_FOUND")
        try await api.call(.GET, "/nope", undocumented: true, auth: .none, expect: 404, code: "NOT_FOUND")
        try await api.call(.DELETE, "/api/messages", undocumented: true, expect: 405, code: "METHOD_NOT_ALLOWED")
    }

    static let webhookSecret = "test_secret_key_123"

    /// Returns the id of the endpoint that receives the rest of the scenario's events.
    private func exerciseWebhookRegistration(_ api: ExchangeRecorder, _ gateway: TestGateway, receiver: WebhookReceiver) async throws -> String {
        let webhooks = "/admin/api/sessions/{session_id}/webhooks"
        let own = "/admin/api/sessions/\(gateway.sessionID)/webhooks"
        let body = #"{"url":"\#(receiver.url)","secret":"\#(Self.webhookSecret)"}"#
        let created = try await api.call(.POST, own, template: webhooks, body: body, auth: .admin, expect: 201)
        try await api.call(.POST, own, template: webhooks, body: body, auth: .admin, expect: 200)
        try await api.call(
            .POST, own, template: webhooks,
            body: #"{"url":"\#(receiver.url)","secret":"s","events":["message.received","session.status","message.status"]}"#, auth: .admin,
            expect: 200)
        try await api.call(.POST, own, template: webhooks, body: body, auth: .admin, expect: 200)
        for bad in [
            #"{"url":"ftp://example.com/hook","secret":"s"}"#, #"{"url":"\#(receiver.url)","secret":""}"#,
            #"{"url":"\#(receiver.url)","secret":"s","events":["message.deleted"]}"#, #"{"url":"\#(receiver.url)"}"#, "[]",
        ] {
            try await api.call(.POST, own, template: webhooks, body: bad, auth: .admin, expect: 400, code: "VALIDATION_ERROR")
        }
        try await api.call(
            .POST, "/admin/api/sessions/session_0000000000000000/webhooks", template: webhooks, body: body, auth: .admin, expect: 404,
            code: "NOT_FOUND")
        try await api.call(.GET, own, template: webhooks, auth: .admin, expect: 200)
        try await api.call(
            .GET, "/admin/api/sessions/session_0000000000000000/webhooks", template: webhooks, auth: .admin, expect: 404, code: "NOT_FOUND")
        return try #require(try created.data["webhook_id"] as? String)
    }

    /// After every event was delivered: the log, redelivery, and removing the endpoint.
    private func exerciseDeliveryLog(_ api: ExchangeRecorder, _ gateway: TestGateway, receiver: WebhookReceiver, webhookID: String) async throws {
        let delivered = try await gateway.eventually {
            let log = try await gateway.deliveries(state: nil)
            return !log.isEmpty && log.allSatisfy { $0["state"] as? String == "succeeded" } && receiver.requests.count == log.count
        }
        #expect(delivered, "every webhook delivery succeeded")
        let deliveries = "/admin/api/sessions/{session_id}/deliveries"
        let own = "/admin/api/sessions/\(gateway.sessionID)/deliveries"
        let log = try await api.call(.GET, own, template: deliveries, auth: .admin, expect: 200)
        try await api.call(.GET, own + "?state=succeeded&limit=5", template: deliveries, auth: .admin, expect: 200)
        for query in ["state=lost", "limit=0", "limit=501"] {
            try await api.call(.GET, own + "?" + query, template: deliveries, auth: .admin, expect: 400, code: "VALIDATION_ERROR")
        }
        try await api.call(
            .GET, "/admin/api/sessions/session_0000000000000000/deliveries", template: deliveries, auth: .admin, expect: 404, code: "NOT_FOUND")
        let first = try #require((try log.json["data"] as? [[String: Any]])?.last?["delivery_id"] as? String)

        let detail = "/admin/api/deliveries/{delivery_id}"
        try await api.call(.GET, "/admin/api/deliveries/\(first)", template: detail, auth: .admin, expect: 200)
        try await api.call(.GET, "/admin/api/deliveries/dlv_000000000000000000000000", template: detail, auth: .admin, expect: 404, code: "NOT_FOUND")
        let redeliver = "/admin/api/deliveries/{delivery_id}/redeliver"
        let before = receiver.requests.count
        try await api.call(.POST, "/admin/api/deliveries/\(first)/redeliver", template: redeliver, auth: .admin, expect: 202)
        try await api.call(
            .POST, "/admin/api/deliveries/dlv_000000000000000000000000/redeliver", template: redeliver, auth: .admin, expect: 404, code: "NOT_FOUND")
        _ = try await receiver.waitForRequests(before + 1)
        let failed = "/admin/api/sessions/{session_id}/deliveries/redeliver-failed"
        try await api.call(.POST, own + "/redeliver-failed", template: failed, auth: .admin, expect: 202)
        try await api.call(
            .POST, "/admin/api/sessions/session_0000000000000000/deliveries/redeliver-failed", template: failed, auth: .admin, expect: 404,
            code: "NOT_FOUND")

        let endpoint = "/admin/api/webhooks/{webhook_id}"
        try await api.call(.DELETE, "/admin/api/webhooks/\(webhookID)", template: endpoint, auth: .admin, expect: 200)
        try await api.call(.DELETE, "/admin/api/webhooks/\(webhookID)", template: endpoint, auth: .admin, expect: 404, code: "NOT_FOUND")
        try await api.call(
            .POST, "/admin/api/deliveries/\(first)/redeliver", template: redeliver, auth: .admin, expect: 400, code: "VALIDATION_ERROR")
    }

    /// Scopes, expiry, the per-key budget and, last because it locks this address out for a
    /// minute, the failed-authentication limit.
    private func exerciseKeyLimits(_ api: ExchangeRecorder, _ gateway: TestGateway) async throws {
        let provisioning = Provisioning(store: gateway.store)
        let session = SessionID(rawValue: gateway.sessionID)
        let readOnly = try await provisioning.issueKey(for: session, label: "read only", scopes: [.messagesRead]).plaintext
        try await api.call(.GET, "/api/messages?limit=1", template: "/api/messages", auth: .bearer(readOnly), expect: 200)
        try await api.call(
            .POST, "/api/messages/send", body: #"{"phone":"+60123456789","message":"hi"}"#, auth: .bearer(readOnly), expect: 403, code: "FORBIDDEN")
        try await api.call(.GET, "/api/session/status", auth: .bearer(readOnly), expect: 403, code: "FORBIDDEN")
        let expired = try await provisioning.issueKey(for: session, label: "expired", expiresAt: Timestamp.now().adding(milliseconds: -1000))
            .plaintext
        try await api.call(.GET, "/api/session/status", auth: .bearer(expired), expect: 401, code: "UNAUTHORIZED")

        let slow = try await provisioning.issueKey(for: session, label: "two a minute", requestsPerMinute: 2).plaintext
        try await api.call(.GET, "/api/session/status", auth: .bearer(slow), expect: 200)
        try await api.call(.GET, "/api/conversations/%2B60123456789", template: "/api/conversations/{phone}", auth: .bearer(slow), expect: 200)
        try await api.call(.GET, "/api/session/status", auth: .bearer(slow), expect: 429, code: "RATE_LIMIT_EXCEEDED")
        try await api.call(
            .POST, "/api/messages/send", body: #"{"phone":"+60123456789","message":"hi"}"#, auth: .bearer(slow), expect: 429,
            code: "RATE_LIMIT_EXCEEDED")

        var lockedOut = false
        for _ in 0..<20 where !lockedOut {
            let reply = try await api.call(.GET, "/admin/api/sessions", auth: .bearer("bzb_admin_wrong"), expect: nil)
            lockedOut = reply.status == 429
        }
        #expect(lockedOut, "failed authentications are limited per address")
        try await api.call(.GET, "/api/session/status", auth: .bearer("bzb_test_wrong"), expect: 429, code: "RATE_LIMIT_EXCEEDED")
    }

    private func exerciseSession(_ api: ExchangeRecorder, _ gateway: TestGateway) async throws {
        try await api.call(.GET, "/api/session/status", expect: 200)
        try await api.call(.POST, "/api/sandbox/scan", expect: 400, code: "VALIDATION_ERROR")
        try await api.call(.POST, "/api/messages/send", body: #"{"phone":"+60123456789","message":"hi"}"#, expect: 400, code: "SESSION_INACTIVE")
        try await api.call(.POST, "/api/sandbox/incoming", body: #"{"phone":"+60123456789","message":"hi"}"#, expect: 400, code: "SESSION_INACTIVE")
        try await api.call(.POST, "/api/sandbox/drop", expect: 400, code: "SESSION_INACTIVE")
        let pairingCode = "/api/session/pairing-code"
        try await api.call(.POST, pairingCode, body: #"{"phone":"+60123456789"}"#, expect: 200)
        try await api.call(.GET, "/api/session/status", expect: 200)
        for bad in ["{}", #"{"phone":"12"}"#, #"{"phone":5}"#, "[1]", "{"] {
            try await api.call(.POST, pairingCode, body: bad, expect: 400, code: "VALIDATION_ERROR")
        }
        try await api.call(.POST, pairingCode, body: #"{"phone":"+60123456789"}"#, auth: .none, expect: 401, code: "UNAUTHORIZED")
        try await api.call(.GET, "/api/qr", expect: 200)
        try await api.call(.GET, "/api/session/status", expect: 200)
        try await api.call(.POST, "/api/sandbox/scan", expect: 200)
        try await api.call(.POST, "/api/sandbox/scan", expect: 400, code: "SESSION_ALREADY_ACTIVE")
        try await api.call(.POST, pairingCode, body: #"{"phone":"+60123456789"}"#, expect: 400, code: "SESSION_ALREADY_ACTIVE")
        try await api.call(.GET, "/api/qr", expect: 400, code: "SESSION_ALREADY_ACTIVE")
        try await api.call(.GET, "/api/session/status", expect: 200)
    }

    private func exerciseMessages(_ api: ExchangeRecorder, _ gateway: TestGateway) async throws {
        let send = "/api/messages/send"
        let echo = try await api.call(.POST, send, body: #"{"phone":"+60100000001","message":"Hello"}"#, expect: 200)
        let outgoingID = try #require(try echo.data["message_id"] as? String)
        try await api.call(.POST, send, body: #"{"phone":"+60100000002","message":"Slow one"}"#, expect: 200)
        try await api.call(.POST, send, body: #"{"phone":"+60100000003","message":"Will fail"}"#, expect: 200)
        try await api.call(.POST, send, body: #"{"phone":"60123456789","message":"No plus","reply_to":null}"#, expect: 200)
        try await api.call(.POST, send, body: #"{"phone":"+60100000004","message":"Nobody"}"#, expect: 400, code: "INVALID_PHONE_NUMBER")
        try await api.call(
            .POST, send, body: #"{"phone":"+60123456789","message":"\#(String(repeating: "x", count: 4097))"}"#, expect: 400, code: "MESSAGE_TOO_LONG"
        )
        for bad in [
            #"{"phone":"+60123456789","message":"#, "[1,2]", #"{"message":"no phone"}"#, #"{"phone":"12","message":"short"}"#,
            #"{"phone":"+60123456789","message":42}"#, #"{"phone":"+60123456789","message":"   "}"#,
            #"{"phone":"+60123456789","message":"hi","reply_to":"msg_unknown"}"#,
        ] {
            try await api.call(.POST, send, body: bad, expect: 400, code: "VALIDATION_ERROR")
        }
        try await api.call(.POST, send, body: "", expect: 400, code: "VALIDATION_ERROR")
        try await api.call(
            .POST, send, body: #"{"phone":"+60123456789","message":"\#(String(repeating: "y", count: 70_000))"}"#, expect: 413,
            code: "PAYLOAD_TOO_LARGE")

        try await exerciseMedia(api, gateway)

        let incoming = try await api.call(
            .POST, "/api/sandbox/incoming", body: #"{"phone":"+60123456789","message":"Hi, I want to book a hiking trip","name":"John Doe"}"#,
            expect: 200)
        let incomingID = try #require(try incoming.data["id"] as? String)
        try await api.call(.POST, "/api/sandbox/incoming", body: #"{"phone":"+60123456788","message":"No name"}"#, expect: 200)
        try await api.call(.POST, "/api/sandbox/incoming", body: #"{"phone":"+60123456788"}"#, expect: 400, code: "VALIDATION_ERROR")
        try await api.call(.POST, send, body: #"{"phone":"+60123456789","message":"Replying","reply_to":"\#(incomingID)"}"#, expect: 200)

        // The sandbox's receipts and the echo's reply arrive on timers; wait until every kind is in,
        // polling with a key of its own so that the scenario's key keeps its request budget.
        let poller = try await Provisioning(store: gateway.store).issueKey(for: SessionID(rawValue: gateway.sessionID), label: "polling").plaintext
        let settled = try await gateway.eventually {
            let statuses = try await gateway.get("/api/messages?limit=100", auth: .bearer(poller)).data["messages"] as? [[String: Any]] ?? []
            let seen = Set(statuses.compactMap { $0["status"] as? String })
            return seen.isSuperset(of: ["unread", "read", "delivered", "failed"]) && statuses.contains { $0["message"] as? String == "Test reply" }
        }
        #expect(settled, "sandbox receipts and echo reply did not arrive")

        try await api.call(.GET, "/api/messages", expect: 200)
        try await api.call(
            .GET, "/api/messages?limit=1&offset=1&status=unread&phone=%2B60123456789&from_date=2020-01-01&to_date=2099-01-01T00:00:00Z",
            template: "/api/messages", expect: 200)
        try await api.call(.GET, "/api/messages?status=read&from_date=2020-01-01T08:00:00%2B08:00", template: "/api/messages", expect: 200)
        for query in [
            "limit=0", "limit=101", "limit=abc", "offset=-1", "status=archived", "phone=abc", "from_date=yesterday", "to_date=2025-13-01",
            "from_date=2025-10-06&to_date=2025-10-05",
        ] {
            try await api.call(.GET, "/api/messages?\(query)", template: "/api/messages", expect: 400, code: "VALIDATION_ERROR")
        }

        let read = "/api/messages/{message_id}/read"
        try await api.call(.POST, "/api/messages/\(incomingID)/read", template: read, expect: 200)
        try await api.call(.POST, "/api/messages/\(incomingID)/read", template: read, expect: 200)
        try await api.call(.POST, "/api/messages/msg_00000000000000000000/read", template: read, expect: 404, code: "NOT_FOUND")
        try await api.call(.POST, "/api/messages/\(outgoingID)/read", template: read, expect: 400, code: "VALIDATION_ERROR")

        let conversation = "/api/conversations/{phone}"
        let page = try await api.call(.GET, "/api/conversations/%2B60123456789?limit=1", template: conversation, expect: 200)
        let oldestShown = try #require((try page.data["messages"] as? [[String: Any]])?.first?["id"] as? String)
        try await api.call(.GET, "/api/conversations/+60123456789", template: conversation, expect: 200)
        try await api.call(.GET, "/api/conversations/60123456789?before=\(oldestShown)&limit=200", template: conversation, expect: 200)
        try await api.call(.GET, "/api/conversations/%2B60199999999", template: conversation, expect: 200)
        for url in [
            "/api/conversations/abc", "/api/conversations/%2B60123456789?limit=201", "/api/conversations/%2B60123456789?limit=0",
            "/api/conversations/%2B60123456789?before=msg_unknown",
        ] {
            try await api.call(.GET, url, template: conversation, expect: 400, code: "VALIDATION_ERROR")
        }
    }

    /// A document sent and received as data; its file whole, by range, past its end and by a signed link.
    private func exerciseMedia(_ api: ExchangeRecorder, _ gateway: TestGateway) async throws {
        // A key of its own, so that the scenario's key keeps its request budget.
        let key = TestGateway.Auth.bearer(
            try await Provisioning(store: gateway.store).issueKey(for: SessionID(rawValue: gateway.sessionID), label: "media").plaintext)
        let send = "/api/messages/send"
        let pdf = Data(Array("%PDF-1.7\n".utf8) + Array(repeating: UInt8(ascii: "x"), count: 200)).base64EncodedString()
        let sent = try await api.call(
            .POST, send, body: #"{"phone":"+60123456789","media":{"type":"document","data":"\#(pdf)","filename":"ticket.pdf","caption":"Ticket"}}"#,
            auth: key, expect: 200)
        let id = try #require(try sent.data["message_id"] as? String)
        try await api.call(
            .POST, send, body: #"{"phone":"+60123456789","media":{"type":"sticker","data":"\#(pdf)"}}"#, auth: key, expect: 400,
            code: "VALIDATION_ERROR")
        try await api.call(
            .POST, "/api/sandbox/incoming", body: #"{"phone":"+60123456789","name":"John Doe","media":{"type":"document","data":"\#(pdf)"}}"#,
            auth: key, expect: 200)

        let file = "/api/media/{message_id}"
        try await api.call(.GET, "/api/media/\(id)", template: file, auth: key, expect: 200)
        try await api.call(.GET, "/api/media/\(id)", template: file, auth: key, headers: [("Range", "bytes=0-3")], expect: 206)
        try await api.call(
            .GET, "/api/media/\(id)", template: file, auth: key, headers: [("Range", "bytes=5000-")], expect: 416, code: "RANGE_NOT_SATISFIABLE")
        try await api.call(.GET, "/api/media/msg_00000000000000000000", template: file, auth: key, expect: 404, code: "NOT_FOUND")
        try await api.call(.GET, "/api/media/\(id)", template: file, auth: .none, expect: 401, code: "UNAUTHORIZED")

        let link = "/api/media/{message_id}/link"
        let made = try await api.call(.POST, "/api/media/\(id)/link?expires_in=600", template: link, auth: key, expect: 200)
        let url = try #require(try made.data["url"] as? String)
        try await api.call(.GET, url, template: file, auth: .none, expect: 200)
        try await api.call(.GET, url + "0", template: file, auth: .none, expect: 401, code: "UNAUTHORIZED")
        try await api.call(.POST, "/api/media/\(id)/link?expires_in=0", template: link, auth: key, expect: 400, code: "VALIDATION_ERROR")
        try await api.call(.POST, "/api/media/msg_00000000000000000000/link", template: link, auth: key, expect: 404, code: "NOT_FOUND")
    }

    private func exerciseSandboxAndLiveKeys(_ api: ExchangeRecorder) async throws {
        let created = try await api.call(
            .POST, "/admin/api/sessions", body: #"{"kind":"live","name":"OFYS Support","key_label":"production"}"#, auth: .admin, expect: 201)
        let session = try #require(try created.data["session"] as? [String: Any])
        #expect(session["kind"] as? String == "live")
        let liveKey = try #require(try created.data["api_key"] as? String)
        #expect(liveKey.hasPrefix("bzb_live_"))
        let live = TestGateway.Auth.bearer(liveKey)
        try await api.call(.POST, "/api/sandbox/scan", auth: live, expect: 403, code: "FORBIDDEN")
        try await api.call(.POST, "/api/sandbox/drop", auth: live, expect: 403, code: "FORBIDDEN")
        try await api.call(
            .POST, "/api/sandbox/incoming", body: #"{"phone":"+60123456789","message":"hi"}"#, auth: live, expect: 403, code: "FORBIDDEN")
        try await api.call(.GET, "/api/qr", auth: live, expect: 503, code: "SERVICE_UNAVAILABLE")
        try await api.call(.GET, "/api/session/status", auth: live, expect: 200)
        try await api.call(.GET, "/api/messages", auth: live, expect: 200)
        try await api.call(
            .POST, "/api/messages/send", body: #"{"phone":"+60123456789","message":"hi"}"#, auth: live, expect: 400, code: "SESSION_INACTIVE")
        try await api.call(.POST, "/api/session/disconnect", auth: live, expect: 200)
    }

    private func exerciseAdmin(_ api: ExchangeRecorder, _ gateway: TestGateway) async throws {
        let sessions = "/admin/api/sessions"
        try await api.call(.GET, sessions, auth: .admin, expect: 200)
        try await api.call(.GET, sessions, auth: .none, expect: 401, code: "UNAUTHORIZED")
        try await api.call(.GET, sessions, auth: .apiKey, expect: 401, code: "UNAUTHORIZED")
        try await api.call(.POST, sessions, body: "{}", auth: .admin, expect: 201)
        try await api.call(.POST, sessions, body: #"{"kind":"business"}"#, auth: .admin, expect: 400, code: "VALIDATION_ERROR")
        try await api.call(.POST, sessions, body: #"{"name":""}"#, auth: .admin, expect: 400, code: "VALIDATION_ERROR")
        try await api.call(.POST, sessions, body: "{", auth: .admin, expect: 400, code: "VALIDATION_ERROR")

        let session = "/admin/api/sessions/{session_id}"
        try await api.call(.GET, "/admin/api/sessions/\(gateway.sessionID)", template: session, auth: .admin, expect: 200)
        try await api.call(.GET, "/admin/api/sessions/session_0000000000000000", template: session, auth: .admin, expect: 404, code: "NOT_FOUND")
        let own = "/admin/api/sessions/\(gateway.sessionID)"
        try await api.call(.PATCH, own, template: session, body: #"{"push_name":"OFYS Support"}"#, auth: .admin, expect: 200)
        try await api.call(.PATCH, own, template: session, body: #"{"name":"Renamed","push_name":"Shop"}"#, auth: .admin, expect: 200)
        for bad in ["{}", #"{"push_name":""}"#, #"{"name":""}"#, #"{"push_name":7}"#, "{"] {
            try await api.call(.PATCH, own, template: session, body: bad, auth: .admin, expect: 400, code: "VALIDATION_ERROR")
        }
        try await api.call(
            .PATCH, "/admin/api/sessions/session_0000000000000000", template: session, body: #"{"push_name":"x"}"#, auth: .admin, expect: 404,
            code: "NOT_FOUND")
        try await api.call(.PATCH, own, template: session, body: #"{"push_name":"x"}"#, auth: .none, expect: 401, code: "UNAUTHORIZED")

        let keys = "/admin/api/sessions/{session_id}/keys"
        let ownKeys = "/admin/api/sessions/\(gateway.sessionID)/keys"
        let added = try await api.call(.POST, ownKeys, template: keys, body: #"{"label":"rotation"}"#, auth: .admin, expect: 201)
        try await api.call(.POST, ownKeys, template: keys, auth: .admin, expect: 201)
        try await api.call(.POST, ownKeys, template: keys, body: #"{"label":5}"#, auth: .admin, expect: 400, code: "VALIDATION_ERROR")
        try await api.call(.POST, "/admin/api/sessions/session_0000000000000000/keys", template: keys, auth: .admin, expect: 404, code: "NOT_FOUND")
        try await api.call(.GET, "/admin/api/sessions/session_0000000000000000/keys", template: keys, auth: .admin, expect: 404, code: "NOT_FOUND")

        let addedKey = try #require(try added.data["api_key"] as? String)
        let addedID = try #require((try added.data["key"] as? [String: Any])?["key_id"] as? String)
        let regenerated = try await api.call(
            .POST, "/admin/api/keys/\(addedID)/regenerate", template: "/admin/api/keys/{key_id}/regenerate", auth: .admin, expect: 200)
        let newID = try #require((try regenerated.data["key"] as? [String: Any])?["key_id"] as? String)
        try await api.call(
            .POST, "/admin/api/keys/\(addedID)/regenerate", template: "/admin/api/keys/{key_id}/regenerate", auth: .admin, expect: 404,
            code: "NOT_FOUND")
        try await api.call(.GET, "/api/session/status", auth: .bearer(addedKey), expect: 401, code: "UNAUTHORIZED")
        try await api.call(.POST, "/admin/api/keys/\(newID)/revoke", template: "/admin/api/keys/{key_id}/revoke", auth: .admin, expect: 200)
        try await api.call(
            .POST, "/admin/api/keys/\(newID)/revoke", template: "/admin/api/keys/{key_id}/revoke", auth: .admin, expect: 404, code: "NOT_FOUND")
        try await api.call(.GET, ownKeys, template: keys, auth: .admin, expect: 200)
    }
}

/// Calls the gateway, checks the status (and error code) the scenario expects, and keeps the
/// exchange for the OpenAPI check.
actor ExchangeRecorder {
    struct Exchange: Encodable, Sendable {
        let method: String
        /// The document's path template; nil for a route the document does not have.
        let path: String?
        let url: String
        let status: Int
        let contentType: String
        let headers: [String: String]
        let body: String
        let requestHeaders: [String: String]
        let requestBody: String?

        enum CodingKeys: String, CodingKey {
            case method, path, url, status, contentType = "content_type", headers, body, requestHeaders = "request_headers", requestBody =
                "request_body"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(method, forKey: .method)
            try container.encode(path, forKey: .path)
            try container.encode(url, forKey: .url)
            try container.encode(status, forKey: .status)
            try container.encode(contentType, forKey: .contentType)
            try container.encode(headers, forKey: .headers)
            try container.encode(body, forKey: .body)
            try container.encode(requestHeaders, forKey: .requestHeaders)
            try container.encode(requestBody, forKey: .requestBody)
        }
    }

    let gateway: TestGateway
    private(set) var exchanges: [Exchange] = []

    init(gateway: TestGateway) {
        self.gateway = gateway
    }

    /// `template` defaults to the URL's path; `undocumented` records a route the document must not have.
    @discardableResult
    func call(
        _ method: HTTPMethod, _ url: String, template: String? = nil, undocumented: Bool = false, body: String? = nil,
        auth: TestGateway.Auth = .apiKey, headers extra: [(String, String)] = [], expect status: Int?, code: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> TestGateway.Reply {
        let reply = try await gateway.request(method, url, body: body, auth: auth, headers: extra)
        if let status {
            #expect(reply.status == status, "\(method) \(url): \(reply.text.prefix(300))", sourceLocation: sourceLocation)
        }
        if let code {
            #expect(reply.errorCode == code, "\(method) \(url): \(reply.text.prefix(300))", sourceLocation: sourceLocation)
        }
        var headers: [String: String] = [:]
        switch auth {
        case .apiKey: headers["Authorization"] = "Bearer \(gateway.apiKey)"
        case .admin: headers["Authorization"] = "Bearer \(gateway.adminToken)"
        case .bearer(let token): headers["Authorization"] = "Bearer \(token)"
        case .none: break
        }
        if body != nil { headers["Content-Type"] = "application/json" }
        for (name, value) in extra { headers[name] = value }
        exchanges.append(
            Exchange(
                method: method.rawValue,
                path: undocumented ? nil : template ?? String(url.prefix { $0 != "?" }),
                url: url, status: reply.status,
                contentType: reply.headers.first { $0.0.lowercased() == "content-type" }?.1 ?? "",
                headers: Dictionary(reply.headers, uniquingKeysWith: { first, _ in first }),
                body: reply.text, requestHeaders: headers, requestBody: body
            ))
        return reply
    }
}

/// A webhook request as the receiver got it; the checker verifies its signatures with `secret`.
struct DeliveredWebhook: Encodable, Sendable {
    let event: String
    let headers: [String: String]
    let body: String
    let secret: String
}

/// Runs `Tests/peers/openapi_check.py` on the served document and the recorded exchanges.
enum OpenAPICheck {
    struct Summary: Decodable {
        let exchanges: Int
        let webhooks: Int
        let operations: Int
    }

    private struct Input: Encodable {
        let exchanges: [ExchangeRecorder.Exchange]
        let webhooks: [DeliveredWebhook]
    }

    static func run(document: Data, exchanges: [ExchangeRecorder.Exchange], webhooks: [DeliveredWebhook], eventsDatabase: String) async throws
        -> Summary
    {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("openapi-\(UUID().uuidString).json")
        try document.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let input = try JSONEncoder().encode(Input(exchanges: exchanges, webhooks: webhooks))
        let output = try await PythonPeer.check(
            "openapi_check.py", arguments: [file.path, "--require-coverage", "--events-db", eventsDatabase], input: input
        )
        return try JSONDecoder().decode(Summary.self, from: output)
    }
}
