import BuzzBridgeCore
import BuzzBridgeStorage

/// The spec's message object. Optional fields are written as `null`, never left out.
struct MessageRepresentation: JSONObject {
    let message: Message

    func members(_ object: inout some JSONMembers) {
        object.member("direction", message.direction.rawValue)
        object.member("from", message.from.e164)
        object.member("from_name", message.fromName)
        if let group = message.group { object.member("group", MessageGroupRepresentation(group: group)) }
        object.member("has_media", message.hasMedia)
        object.member("id", message.id.rawValue)
        if let lid = message.lid { object.member("lid", lid) }
        object.member("media", message.media.map(MediaRepresentation.init))
        object.member("media_url", message.mediaURL)
        object.member("message", message.body)
        object.member("message_type", message.type.rawValue)
        object.member("read_at", message.readAt)
        object.member("reply_to", message.replyTo?.rawValue)
        object.member("status", message.status.rawValue)
        object.member("timestamp", message.timestamp)
        object.member("to", message.to.e164)
    }
}

/// The group of a live session's group message (added to the spec's message object only when
/// the message has one): its JID and, when known, its subject.
struct MessageGroupRepresentation: JSONObject {
    let group: MessageGroup

    func members(_ object: inout some JSONMembers) {
        object.member("id", group.id)
        object.member("subject", group.subject)
    }
}

/// What BuzzBridge adds to the spec's message object for media messages: the file's facts and
/// `status` (`pending`, `downloading`, `ready`, `failed`; only `ready` files are served).
struct MediaRepresentation: JSONObject {
    let media: MediaAttachment

    func members(_ object: inout some JSONMembers) {
        object.member("filename", media.fileName)
        object.member("height", media.height)
        object.member("mime_type", media.mimeType)
        object.member("size", media.size)
        object.member("status", media.status.rawValue)
        object.member("width", media.width)
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
