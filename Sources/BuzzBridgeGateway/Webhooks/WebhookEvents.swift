import BuzzBridgeCore
import BuzzBridgeEngines
import BuzzBridgeStorage

/// Builds the spec's webhook bodies. The bytes built here are stored in the outbox and later
/// sent and signed exactly as they are. Written with ``JSONWriter``: two of them are built for
/// every message sent.
enum WebhookEvents {
    static let messageReceived = "message.received"
    static let messageStatus = "message.status"
    static let sessionStatus = "session.status"
    static let all = [messageReceived, messageStatus, sessionStatus]

    /// `{"data":…,"event":…,"timestamp":…}` with sorted keys, as every other body of the API.
    /// `conversation`: the contact's number for message events, nil for session-level ones.
    private static func event(
        _ type: String, session: SessionID, conversation: PhoneNumber?, at time: Timestamp, data: (inout JSONWriter) -> Void
    ) -> OutboxEvent {
        var json = JSONWriter(capacity: 512)
        json.object { envelope in
            envelope.key("data"); data(&envelope)
            envelope.key("event"); envelope.value(type)
            envelope.key("timestamp"); envelope.value(time)
        }
        return OutboxEvent(sessionID: session, type: type, payload: json.bytes, createdAt: time, conversation: conversation?.e164 ?? "")
    }

    static func received(_ message: Message) -> OutboxEvent {
        event(messageReceived, session: message.sessionID, conversation: message.contact, at: message.timestamp) { json in
            json.object { data in
                data.key("from"); data.value(message.from.e164)
                data.key("from_name"); data.value(message.fromName)
                if let group = message.group {
                    data.key("group")
                    data.object { object in
                        object.key("id"); object.value(group.id)
                        object.key("subject"); object.value(group.subject)
                    }
                }
                data.key("has_media"); data.value(message.hasMedia)
                if let lid = message.lid { data.key("lid"); data.value(lid) }
                // Added for media messages only: a text message's body stays exactly the spec's.
                if let media = message.media { data.key("media_status"); data.value(media.status.rawValue) }
                data.key("media_url"); data.value(message.mediaURL)
                data.key("message"); data.value(message.body)
                data.key("message_id"); data.value(message.id.rawValue)
                data.key("message_type"); data.value(message.type.rawValue)
                data.key("timestamp"); data.value(message.timestamp)
                data.key("to"); data.value(message.to.e164)
            }
        }
    }

    static func status(of message: Message, at time: Timestamp) -> OutboxEvent {
        event(messageStatus, session: message.sessionID, conversation: message.contact, at: time) { json in
            json.object { data in
                data.key("message_id"); data.value(message.id.rawValue)
                data.key("phone"); data.value(message.contact.e164)
                data.key("status"); data.value(message.status.rawValue)
                data.key("updated_at"); data.value(time)
            }
        }
    }

    /// `change` is one of the spec's session events without the prefix: `qr_generated`,
    /// `connected`, `disconnected`.
    static func session(_ session: Session, change: String, reason: String?, at time: Timestamp) -> OutboxEvent {
        event(sessionStatus, session: session.id, conversation: nil, at: time) { json in
            json.object { data in
                data.key("change"); data.value(change)
                data.key("connected_at"); data.value(session.connectedAt)
                data.key("phone_number"); data.value(session.phoneNumber?.e164)
                if let reason { data.key("reason"); data.value(reason) }
                data.key("session_id"); data.value(session.id.rawValue)
                data.key("status"); data.value(session.status.rawValue)
            }
        }
    }
}
