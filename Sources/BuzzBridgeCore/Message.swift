public enum MessageDirection: String, Sendable, Codable, CaseIterable {
    case incoming
    case outgoing
}

/// The spec's message states, plus `pending`: an outgoing message stored but not yet accepted
/// by WhatsApp (stored first so that nothing is lost if the process dies mid-send).
public enum MessageStatus: String, Sendable, Codable, CaseIterable {
    case pending
    case unread
    case read
    case sent
    case delivered
    case failed
    /// An incoming message the live engine could not decrypt (yet): WhatsApp was asked to send it
    /// again, and the decrypted delivery replaces it (same id, then `unread`).
    case undecryptable

    /// Outgoing receipts only move forward (a late `delivered` must not undo `read`), and a
    /// message a receipt showed delivered or read never fails afterwards (an ack that timed out
    /// after the recipient's receipt came in changes nothing).
    public func canAdvance(to next: MessageStatus) -> Bool {
        switch (self, next) {
        case (.failed, _), (.read, _): false
        // A receipt never skips `sent` (see the event recorder); failing is possible until a receipt.
        case (.pending, .sent), (.pending, .failed): true
        case (.sent, .delivered), (.sent, .read), (.sent, .failed): true
        case (.delivered, .read): true
        case (.unread, .read): true
        default: false
        }
    }
}

public enum MessageType: String, Sendable, Codable, CaseIterable {
    case text, image, video, audio, document
}

public struct Message: Sendable, Equatable {
    public var id: MessageID
    public var sessionID: SessionID
    /// WhatsApp's own id for the message, when the engine reported one.
    public var externalID: String?
    public var direction: MessageDirection
    public var from: PhoneNumber
    public var fromName: String?
    public var to: PhoneNumber
    public var body: String
    public var status: MessageStatus
    public var timestamp: Timestamp
    public var type: MessageType
    public var mediaURL: String?
    /// The file of a media message: what it is and where it stands.
    public var media: MediaAttachment?
    public var replyTo: MessageID?
    public var readAt: Timestamp?
    /// The sender's LID user (digits before `@lid`), for incoming messages of live sessions.
    public var lid: String?
    /// The chat as WhatsApp addressed it (live sessions): where read receipts go.
    public var chatJID: String?
    /// The sender as WhatsApp named it, in groups (the read receipt's participant).
    public var senderJID: String?
    /// The group the message was sent in, when it was.
    public var group: MessageGroup?

    /// The other party of the conversation this message belongs to.
    public var contact: PhoneNumber { direction == .incoming ? from : to }
    /// Media messages have media even before their file can be fetched.
    public var hasMedia: Bool { media != nil || mediaURL != nil || type != .text }

    /// Where BuzzBridge serves a message's file (relative to the server's base URL).
    public static func mediaPath(of id: MessageID) -> String { "/api/media/\(id.rawValue)" }

    public init(
        id: MessageID, sessionID: SessionID, externalID: String? = nil, direction: MessageDirection,
        from: PhoneNumber, fromName: String? = nil, to: PhoneNumber, body: String, status: MessageStatus,
        timestamp: Timestamp, type: MessageType = .text, mediaURL: String? = nil, media: MediaAttachment? = nil,
        replyTo: MessageID? = nil, readAt: Timestamp? = nil, lid: String? = nil, chatJID: String? = nil, senderJID: String? = nil,
        group: MessageGroup? = nil
    ) {
        self.id = id
        self.sessionID = sessionID
        self.externalID = externalID
        self.direction = direction
        self.from = from
        self.fromName = fromName
        self.to = to
        self.body = body
        self.status = status
        self.timestamp = timestamp
        self.type = type
        self.mediaURL = mediaURL
        self.media = media
        self.replyTo = replyTo
        self.readAt = readAt
        self.lid = lid
        self.chatJID = chatJID
        self.senderJID = senderJID
        self.group = group
    }
}
