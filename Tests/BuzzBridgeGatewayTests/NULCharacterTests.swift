import Foundation
import Testing

/// U+0000 is a character like any other: the API's answer, the stored message read back and the
/// webhook body carry the same text on every path (issue #15: it once cut stored text short).
@Suite("U+0000 in text: answer, store and webhook agree")
struct NULCharacterTests {
    @Test func textWithNULIsKeptWholeOnEveryPath() async throws {
        let gateway = try await TestGateway.start()
        let receiver = try await WebhookReceiver.start()
        try await gateway.connect()
        try await gateway.addWebhook(url: "http://127.0.0.1:\(receiver.port)/hook", events: ["message.received"])

        // Incoming, through the sandbox engine, with a push name that carries one too.
        let incomingText = "visible\u{0} hidden tail"
        let incoming = try await gateway.post(
            "/api/sandbox/incoming", TestGateway.json(["phone": "+60123456789", "message": incomingText, "name": "na\u{0}me"])
        )
        #expect(incoming.status == 200)
        let answered = try incoming.data["message"] as? String
        #expect(answered == incomingText)
        #expect(try incoming.data["from_name"] as? String == "na\u{0}me")
        let messageID = try #require(try incoming.data["id"] as? String)

        let webhook = try #require(try await receiver.waitForRequests(1).first)
        let event = try #require(try JSONSerialization.jsonObject(with: Data(webhook.body)) as? [String: Any])
        let eventData = try #require(event["data"] as? [String: Any])
        #expect(eventData["message"] as? String == incomingText)
        #expect(eventData["from_name"] as? String == "na\u{0}me")

        let conversation = try await gateway.get("/api/conversations/+60123456789")
        #expect(try conversation.data["contact_name"] as? String == "na\u{0}me")
        let stored = (try conversation.data["messages"] as? [[String: Any]])?.first { $0["id"] as? String == messageID }
        #expect(stored?["message"] as? String == incomingText)

        // Outgoing: a text that starts with U+0000 is not empty and is stored whole.
        let outgoingText = "\u{0}hidden payload"
        let sent = try await gateway.post("/api/messages/send", TestGateway.json(["phone": "+60100000009", "message": outgoingText]))
        #expect(sent.status == 200, "\(sent.text)")
        #expect(try sent.data["message"] as? String == outgoingText)
        let sentID = try #require(try sent.data["message_id"] as? String)
        let list = try await gateway.get("/api/messages?phone=%2B60100000009")
        let readBack = (try list.data["messages"] as? [[String: Any]])?.first { $0["id"] as? String == sentID }
        #expect(readBack?["message"] as? String == outgoingText)

        // A session name too.
        let created = try await gateway.post("/admin/api/sessions", TestGateway.json(["name": "a\u{0}b"]), auth: .admin)
        let sessionID = try #require((try created.data["session"] as? [String: Any])?["session_id"] as? String)
        let shown = try await gateway.get("/admin/api/sessions/\(sessionID)", auth: .admin)
        #expect(try shown.data["name"] as? String == "a\u{0}b")

        await receiver.stop()
        try await gateway.discard()
    }
}
