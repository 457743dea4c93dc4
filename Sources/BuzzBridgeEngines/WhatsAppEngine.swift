import BuzzBridgeCore

/// The only way the gateway talks to WhatsApp. One engine instance serves one session.
///
/// Engines report everything that happens to their ``EngineEventSink`` and await it: when
/// `record` returns, the gateway has persisted the event, so an engine acknowledges a message to
/// WhatsApp only after it is safe, and a method such as ``logout()`` returns only once the
/// resulting state change is stored.
public protocol WhatsAppEngine: Sendable {
    /// Starts pairing by QR (or returns the QR still valid) for a session that is not active.
    func qrCode() async throws(EngineError) -> PairingQR

    /// Starts pairing by phone number: returns the 8-character code the user types on the phone
    /// (WhatsApp → Linked devices → Link with phone number). `phone` is the account's number.
    func pairingCode(phone: PhoneNumber) async throws(EngineError) -> LinkingCode

    /// The WhatsApp id the next outgoing message will carry (`3EB0…` on the live engine). The
    /// gateway stores it with the `pending` message before calling ``send(_:)``, so that a crash
    /// after the message left still lets its receipts find it.
    func newExternalID() async -> String

    /// Hands a message to WhatsApp under `message.externalID`. Returns once WhatsApp accepted it;
    /// later receipts arrive as ``EngineEvent/messageStatus(_:)`` events naming that id.
    func send(_ message: OutgoingMessage) async throws(EngineError) -> SendReceipt

    /// Tells the sender that an incoming message was read (blue ticks).
    func markRead(_ message: IncomingMessageReference) async throws(EngineError)

    /// Logs the device out on WhatsApp's side (when connected), then forgets the pairing and
    /// wipes its keys.
    func logout() async throws(EngineError)

    /// Logs in again with the stored credentials after a restart: no new QR.
    func resume(as phoneNumber: PhoneNumber) async

    /// The name WhatsApp shows contacts; announced with presence from now on.
    func setPushName(_ name: String) async throws(EngineError)

    /// Stops the engine: no event is recorded after this returns.
    func shutdown() async
}

/// Where an engine reports events; the gateway's implementation persists them.
public protocol EngineEventSink: Sendable {
    func record(_ event: EngineEvent) async throws
}

/// A pairing QR: the string the phone scans, valid until `expiresAt` (WhatsApp's refs rotate).
public struct PairingQR: Sendable, Equatable {
    /// The exact string a phone must scan.
    public var payload: String
    public var expiresAt: Timestamp

    public init(payload: String, expiresAt: Timestamp) {
        self.payload = payload
        self.expiresAt = expiresAt
    }
}

/// A code for pairing by phone number: 8 characters the user types on the phone.
public struct LinkingCode: Sendable, Equatable {
    /// Eight characters of WhatsApp's alphabet (`123456789ABCDEFGHJKLMNPQRSTVWXYZ`).
    public var code: String
    /// The account the code is for.
    public var phone: PhoneNumber
    public var expiresAt: Timestamp

    public init(code: String, phone: PhoneNumber, expiresAt: Timestamp) {
        self.code = code
        self.phone = phone
        self.expiresAt = expiresAt
    }
}

public struct OutgoingMessage: Sendable, Equatable {
    public var id: MessageID
    /// The id from ``WhatsAppEngine/newExternalID()``, already stored with the message.
    public var externalID: String
    public var to: PhoneNumber
    /// The text, or a media message's caption (may be empty then).
    public var body: String
    /// The message this one replies to, when it does.
    public var quoted: QuotedMessage?
    /// The file of an image, video, audio or document message; nil for text.
    public var media: OutgoingMedia?

    public init(id: MessageID, externalID: String, to: PhoneNumber, body: String, quoted: QuotedMessage? = nil, media: OutgoingMedia? = nil) {
        self.id = id
        self.externalID = externalID
        self.to = to
        self.body = body
        self.quoted = quoted
        self.media = media
    }
}

/// What a reply shows of the message it quotes.
public struct QuotedMessage: Sendable, Equatable {
    /// The quoted message's WhatsApp id.
    public var externalID: String
    /// Who wrote it: the contact for an incoming message, the account for an outgoing one.
    public var sender: PhoneNumber
    public var fromMe: Bool
    public var body: String

    public init(externalID: String, sender: PhoneNumber, fromMe: Bool, body: String) {
        self.externalID = externalID
        self.sender = sender
        self.fromMe = fromMe
        self.body = body
    }
}

public struct SendReceipt: Sendable, Equatable {
    public var externalID: String
    public var timestamp: Timestamp

    public init(externalID: String, timestamp: Timestamp) {
        self.externalID = externalID
        self.timestamp = timestamp
    }
}

public struct IncomingMessageReference: Sendable, Equatable {
    public var externalID: String
    public var from: PhoneNumber
    /// The chat as the message arrived (`…@lid`, `…@s.whatsapp.net`, `…@g.us`): the read receipt
    /// goes there. Nil for engines that do not report it (the sandbox).
    public var chatJID: String?
    /// In a group, the sender as the message named it (the read receipt's participant).
    public var senderJID: String?

    public init(externalID: String, from: PhoneNumber, chatJID: String? = nil, senderJID: String? = nil) {
        self.externalID = externalID
        self.from = from
        self.chatJID = chatJID
        self.senderJID = senderJID
    }
}

/// The message an incoming reply quotes, as the reply names it.
public struct IncomingQuote: Sendable, Equatable {
    /// WhatsApp's id of the quoted message.
    public var externalID: String
    public var text: String?

    public init(externalID: String, text: String?) {
        self.externalID = externalID
        self.text = text
    }
}

public struct IncomingMessage: Sendable, Equatable {
    /// WhatsApp's id; the gateway drops a second delivery of the same id, except that a message
    /// stored as undecryptable is replaced by its decrypted delivery.
    public var externalID: String
    /// The sender's phone number, never a LID; for ``fromOwnDevice`` messages the account's own.
    public var from: PhoneNumber
    public var fromName: String?
    /// The text, or a media message's caption.
    public var body: String
    public var type: MessageType
    public var timestamp: Timestamp
    /// The sender's LID user (the digits before `@lid`), when known.
    public var lid: String?
    /// The chat as WhatsApp addressed it; read receipts go there.
    public var chatJID: String?
    /// The sender as the stanza named it (a group's participant), for read receipts in groups.
    public var senderJID: String?
    public var group: MessageGroup?
    public var quoted: IncomingQuote?
    /// Sent by the account itself from another device (its phone): stored as an outgoing message
    /// to ``to``.
    public var fromOwnDevice: Bool
    /// For ``fromOwnDevice`` messages: the contact it went to.
    public var to: PhoneNumber?
    /// The message could not be decrypted (yet): stored with status `undecryptable` and replaced
    /// when WhatsApp delivers it again decrypted.
    public var undecryptable: Bool
    /// The file, for `image`, `video`, `audio` and `document` messages.
    public var media: IncomingMedia?

    public init(
        externalID: String, from: PhoneNumber, fromName: String?, body: String, type: MessageType = .text, timestamp: Timestamp,
        lid: String? = nil, chatJID: String? = nil, senderJID: String? = nil, group: MessageGroup? = nil, quoted: IncomingQuote? = nil,
        fromOwnDevice: Bool = false, to: PhoneNumber? = nil, undecryptable: Bool = false, media: IncomingMedia? = nil
    ) {
        self.externalID = externalID
        self.from = from
        self.fromName = fromName
        self.body = body
        self.type = type
        self.timestamp = timestamp
        self.lid = lid
        self.chatJID = chatJID
        self.senderJID = senderJID
        self.group = group
        self.quoted = quoted
        self.fromOwnDevice = fromOwnDevice
        self.to = to
        self.undecryptable = undecryptable
        self.media = media
    }
}

/// A new status of an outgoing message, named by the gateway's id or by WhatsApp's.
public struct MessageStatusChange: Sendable, Equatable {
    public enum Target: Sendable, Equatable {
        case message(MessageID)
        /// The WhatsApp id the message was sent with (a receipt names only that).
        case external(String)
    }

    public var target: Target
    public var status: MessageStatus
    public var at: Timestamp

    public init(messageID: MessageID, status: MessageStatus, at: Timestamp) {
        self.init(target: .message(messageID), status: status, at: at)
    }

    public init(externalID: String, status: MessageStatus, at: Timestamp) {
        self.init(target: .external(externalID), status: status, at: at)
    }

    public init(target: Target, status: MessageStatus, at: Timestamp) {
        self.target = target
        self.status = status
        self.at = at
    }
}

public enum SessionChange: Sendable, Equatable {
    /// A QR is out (the first, or a rotated one).
    case pairingStarted(PairingQR)
    /// A code for pairing by phone number is out.
    case pairingCodeIssued(LinkingCode)
    /// Logged in: after pairing, after a restart, after a reconnect.
    case connected(LinkedAccount)
    /// The connection was lost; the engine logs in again with the stored credentials. The
    /// session stays `active`.
    case reconnecting(at: Timestamp)
    case disconnected(reason: DisconnectReason, at: Timestamp)
}

/// The account a session is linked to, as WhatsApp reports it on login.
public struct LinkedAccount: Sendable, Equatable {
    public var phoneNumber: PhoneNumber
    /// The account's LID user (digits before `@lid`).
    public var lid: String?
    public var pushName: String?
    /// The primary device's platform (`android`, `iphone`, `smba`…).
    public var platform: String?
    public var at: Timestamp

    public init(phoneNumber: PhoneNumber, lid: String? = nil, pushName: String? = nil, platform: String? = nil, at: Timestamp) {
        self.phoneNumber = phoneNumber
        self.lid = lid
        self.pushName = pushName
        self.platform = platform
        self.at = at
    }
}

public enum EngineEvent: Sendable, Equatable {
    case incomingMessage(IncomingMessage)
    case messageStatus(MessageStatusChange)
    case session(SessionChange)
}

public enum EngineError: Error, Sendable, Equatable {
    case alreadyActive
    case notConnected
    /// The number is well-formed but has no WhatsApp account.
    case notOnWhatsApp(PhoneNumber)
    /// This build or configuration has no engine for the session's kind.
    case unavailable(String)
    /// The request cannot be carried out in the engine's current state (a caller's mistake).
    case failed(String)
    /// WhatsApp refused the request or did not answer (named in the message).
    case rejected(String)
    /// The gateway could not store what happened; the engine did not acknowledge it.
    case recordingFailed
}

/// Creates the engine for a session; the gateway never names a concrete engine type.
public protocol EngineFactory: Sendable {
    func makeEngine(for session: Session, events: any EngineEventSink) throws(EngineError) -> any WhatsAppEngine
}
