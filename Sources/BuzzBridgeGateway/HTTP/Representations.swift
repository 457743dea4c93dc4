import BuzzBridgeCore
import BuzzBridgeStorage

/// The spec's message object. Optional fields are written as `null`, never left out.
struct MessageRepresentation: Encodable, JSONWritable {
    let message: Message

    func write(to json: inout JSONWriter) {
        json.object { object in
            object.key("direction"); object.value(message.direction.rawValue)
            object.key("from"); object.value(message.from.e164)
            object.key("from_name"); object.value(message.fromName)
            object.key("has_media"); object.value(message.hasMedia)
            object.key("id"); object.value(message.id.rawValue)
            object.key("media_url"); object.value(message.mediaURL)
            object.key("message"); object.value(message.body)
            object.key("message_type"); object.value(message.type.rawValue)
            object.key("read_at"); object.value(message.readAt)
            object.key("reply_to"); object.value(message.replyTo?.rawValue)
            object.key("status"); object.value(message.status.rawValue)
            object.key("timestamp"); object.value(message.timestamp)
            object.key("to"); object.value(message.to.e164)
        }
    }

    enum CodingKeys: String, CodingKey {
        case id, from, fromName = "from_name", to, message, direction, status, timestamp
        case messageType = "message_type", hasMedia = "has_media", mediaURL = "media_url", replyTo = "reply_to", readAt = "read_at"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(message.id.rawValue, forKey: .id)
        try container.encode(message.from.e164, forKey: .from)
        try container.encode(message.fromName, forKey: .fromName)
        try container.encode(message.to.e164, forKey: .to)
        try container.encode(message.body, forKey: .message)
        try container.encode(message.direction.rawValue, forKey: .direction)
        try container.encode(message.status.rawValue, forKey: .status)
        try container.encode(message.timestamp.iso8601, forKey: .timestamp)
        try container.encode(message.type.rawValue, forKey: .messageType)
        try container.encode(message.hasMedia, forKey: .hasMedia)
        try container.encode(message.mediaURL, forKey: .mediaURL)
        try container.encode(message.replyTo?.rawValue, forKey: .replyTo)
        try container.encode(message.readAt?.iso8601, forKey: .readAt)
    }
}

/// The spec's session status, and what BuzzBridge adds: `connection` (`connected`,
/// `reconnecting`) while `active`, `disconnect_reason` once `disconnected`, and the linked
/// account's `lid`, `push_name` and `platform` when known. Added fields are left out when empty,
/// so that the spec's five keep their exact shape.
struct SessionStatusRepresentation: Encodable, Sendable {
    let session: Session

    enum CodingKeys: String, CodingKey {
        case sessionID = "session_id", status, phoneNumber = "phone_number", connectedAt = "connected_at", lastActivity = "last_activity"
        case connection, disconnectReason = "disconnect_reason", lid, pushName = "push_name", platform
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(session.id.rawValue, forKey: .sessionID)
        try container.encode(session.status.rawValue, forKey: .status)
        try container.encode(session.phoneNumber?.e164, forKey: .phoneNumber)
        try container.encode(session.connectedAt?.iso8601, forKey: .connectedAt)
        try container.encode(session.lastActivity?.iso8601, forKey: .lastActivity)
        if session.status == .active { try container.encodeIfPresent(session.connection?.rawValue ?? "connected", forKey: .connection) }
        if session.status == .disconnected { try container.encodeIfPresent(session.disconnectReason?.rawValue, forKey: .disconnectReason) }
        try container.encodeIfPresent(session.lid, forKey: .lid)
        try container.encodeIfPresent(session.pushName, forKey: .pushName)
        try container.encodeIfPresent(session.platform, forKey: .platform)
    }
}
