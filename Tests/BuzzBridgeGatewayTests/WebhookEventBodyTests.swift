import BuzzBridgeCore
import BuzzBridgeStorage
import Foundation
import Testing

@testable import BuzzBridgeGateway

/// Webhook bodies are written by hand; Foundation's JSONSerialization (sorted keys, slashes
/// unescaped) is the independent reference for their exact bytes.
@Suite("Webhook bodies are byte for byte what JSONSerialization writes")
struct WebhookEventBodyTests {
    private func reference(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
    }

    private func body(_ event: OutboxEvent) -> String { String(decoding: event.payload, as: UTF8.self) }

    @Test(arguments: ["Hi \"there\" / \\ \n\t émoji 🎒", "plain"])
    func messageReceived(text: String) throws {
        let message = Message(
            id: MessageID(rawValue: "msg_abc"), sessionID: SessionID(rawValue: "session_x"), externalID: "EXT", direction: .incoming,
            from: PhoneNumber("+60123456789")!, fromName: text == "plain" ? nil : "Ali / \"A\"", to: PhoneNumber("+60100000000")!,
            body: text, status: .unread, timestamp: Timestamp(millisecondsSinceEpoch: 1_759_674_330_123)
        )
        let expected = try reference([
            "event": "message.received", "timestamp": "2025-10-05T14:25:30Z",
            "data": [
                "message_id": "msg_abc", "from": "+60123456789", "from_name": message.fromName.map { $0 as Any } ?? NSNull(),
                "to": "+60100000000", "message": text, "message_type": "text", "has_media": false, "media_url": NSNull(),
                "timestamp": "2025-10-05T14:25:30Z",
            ] as [String: Any],
        ])
        #expect(body(WebhookEvents.received(message)) == expected)
    }

    @Test func messageStatus() throws {
        let message = Message(
            id: MessageID(rawValue: "msg_out"), sessionID: SessionID(rawValue: "session_x"), direction: .outgoing,
            from: PhoneNumber("+60100000000")!, to: PhoneNumber("+60123456789")!, body: "hello", status: .delivered,
            timestamp: Timestamp(millisecondsSinceEpoch: 0)
        )
        let at = Timestamp(millisecondsSinceEpoch: 951_782_400_000)
        let expected = try reference([
            "event": "message.status", "timestamp": "2000-02-29T00:00:00Z",
            "data": ["message_id": "msg_out", "status": "delivered", "phone": "+60123456789", "updated_at": "2000-02-29T00:00:00Z"],
        ])
        #expect(body(WebhookEvents.status(of: message, at: at)) == expected)
    }

    @Test func sessionChanges() throws {
        var session = Session(id: SessionID(rawValue: "session_x"), kind: .sandbox, name: "Shop", createdAt: Timestamp(millisecondsSinceEpoch: 0))
        let at = Timestamp(millisecondsSinceEpoch: 1_000)
        #expect(
            body(WebhookEvents.session(session, change: "disconnected", reason: "logged_out", at: at))
                == (try reference([
                    "event": "session.status", "timestamp": "1970-01-01T00:00:01Z",
                    "data": [
                        "session_id": "session_x", "status": "disconnected", "phone_number": NSNull(), "connected_at": NSNull(),
                        "change": "disconnected", "reason": "logged_out",
                    ] as [String: Any],
                ])))
        session.status = .active
        session.phoneNumber = PhoneNumber("+60100000000")
        session.connectedAt = at
        #expect(
            body(WebhookEvents.session(session, change: "connected", reason: nil, at: at))
                == (try reference([
                    "event": "session.status", "timestamp": "1970-01-01T00:00:01Z",
                    "data": [
                        "session_id": "session_x", "status": "active", "phone_number": "+60100000000", "connected_at": "1970-01-01T00:00:01Z",
                        "change": "connected",
                    ],
                ])))
    }
}
