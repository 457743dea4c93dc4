import BuzzBridgeCore
import BuzzBridgeEngines
import BuzzBridgeStorage
import Foundation

/// Builds the spec's webhook bodies. The bytes built here are stored in the outbox and later
/// sent and signed exactly as they are.
enum WebhookEvents {
    static let messageReceived = "message.received"
    static let messageStatus = "message.status"
    static let sessionStatus = "session.status"
    static let all = [messageReceived, messageStatus, sessionStatus]

    private struct Envelope<Data: Encodable>: Encodable {
        let event: String
        let timestamp: String
        let data: Data
    }

    private struct Received: Encodable {
        let message: Message
        enum CodingKeys: String, CodingKey {
            case messageID = "message_id", from, fromName = "from_name", to, message, messageType = "message_type"
            case hasMedia = "has_media", mediaURL = "media_url", timestamp
        }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(message.id.rawValue, forKey: .messageID)
            try container.encode(message.from.e164, forKey: .from)
            try container.encode(message.fromName, forKey: .fromName)
            try container.encode(message.to.e164, forKey: .to)
            try container.encode(message.body, forKey: .message)
            try container.encode(message.type.rawValue, forKey: .messageType)
            try container.encode(message.hasMedia, forKey: .hasMedia)
            try container.encode(message.mediaURL, forKey: .mediaURL)
            try container.encode(message.timestamp.iso8601, forKey: .timestamp)
        }
    }

    private struct StatusChange: Encodable {
        let messageID: String
        let status: String
        let phone: String
        let updatedAt: String
        enum CodingKeys: String, CodingKey {
            case messageID = "message_id", status, phone, updatedAt = "updated_at"
        }
    }

    private struct SessionChangeData: Encodable {
        let session: Session
        let change: String
        let reason: String?
        enum CodingKeys: String, CodingKey {
            case sessionID = "session_id", status, phoneNumber = "phone_number", connectedAt = "connected_at", change, reason
        }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(session.id.rawValue, forKey: .sessionID)
            try container.encode(session.status.rawValue, forKey: .status)
            try container.encode(session.phoneNumber?.e164, forKey: .phoneNumber)
            try container.encode(session.connectedAt?.iso8601, forKey: .connectedAt)
            try container.encode(change, forKey: .change)
            try container.encodeIfPresent(reason, forKey: .reason)
        }
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    private static func event(_ type: String, session: SessionID, at time: Timestamp, data: some Encodable) -> OutboxEvent {
        let body = Envelope(event: type, timestamp: time.iso8601, data: data)
        // Encoding plain strings and booleans cannot fail.
        let bytes = (try? encoder.encode(body)).map(Array.init) ?? []
        return OutboxEvent(sessionID: session, type: type, payload: bytes, createdAt: time)
    }

    static func received(_ message: Message) -> OutboxEvent {
        event(messageReceived, session: message.sessionID, at: message.timestamp, data: Received(message: message))
    }

    static func status(of message: Message, at time: Timestamp) -> OutboxEvent {
        event(messageStatus, session: message.sessionID, at: time, data: StatusChange(
            messageID: message.id.rawValue, status: message.status.rawValue, phone: message.contact.e164, updatedAt: time.iso8601
        ))
    }

    /// `change` is one of the spec's session events without the prefix: `qr_generated`,
    /// `connected`, `disconnected`.
    static func session(_ session: Session, change: String, reason: String?, at time: Timestamp) -> OutboxEvent {
        event(sessionStatus, session: session.id, at: time, data: SessionChangeData(session: session, change: change, reason: reason))
    }
}
