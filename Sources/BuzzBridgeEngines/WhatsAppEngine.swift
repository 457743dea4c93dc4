import BuzzBridgeCore

/// The only way the gateway talks to WhatsApp. One engine instance serves one session.
///
/// Engines report everything that happens to their ``EngineEventSink`` and await it: when
/// `record` returns, the gateway has persisted the event, so an engine acknowledges a message to
/// WhatsApp only after it is safe, and a method such as ``logout()`` returns only once the
/// resulting state change is stored.
public protocol WhatsAppEngine: Sendable {
    /// Starts pairing (or returns the pairing code still valid) for a session that is not active.
    func pairingCode() async throws(EngineError) -> PairingCode

    /// Hands a message to WhatsApp. Returns once WhatsApp accepted it; later receipts arrive as
    /// ``EngineEvent/messageStatus(_:)`` events naming `message.id`.
    func send(_ message: OutgoingMessage) async throws(EngineError) -> SendReceipt

    /// Tells the sender that an incoming message was read (blue ticks).
    func markRead(_ message: IncomingMessageReference) async throws(EngineError)

    /// Logs out and forgets the pairing.
    func logout() async throws(EngineError)

    /// Restores a previously paired connection after a restart.
    func resume(as phoneNumber: PhoneNumber) async

    /// Stops the engine: no event is recorded after this returns.
    func shutdown() async
}

/// Where an engine reports events; the gateway's implementation persists them.
public protocol EngineEventSink: Sendable {
    func record(_ event: EngineEvent) async throws
}

public struct PairingCode: Sendable, Equatable {
    /// The exact string a phone must scan.
    public var payload: String
    public var expiresAt: Timestamp

    public init(payload: String, expiresAt: Timestamp) {
        self.payload = payload
        self.expiresAt = expiresAt
    }
}

public struct OutgoingMessage: Sendable, Equatable {
    public var id: MessageID
    public var to: PhoneNumber
    public var body: String
    /// The WhatsApp id of the message this one quotes, when it replies to one.
    public var quotedExternalID: String?

    public init(id: MessageID, to: PhoneNumber, body: String, quotedExternalID: String? = nil) {
        self.id = id
        self.to = to
        self.body = body
        self.quotedExternalID = quotedExternalID
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

    public init(externalID: String, from: PhoneNumber) {
        self.externalID = externalID
        self.from = from
    }
}

public struct IncomingMessage: Sendable, Equatable {
    /// WhatsApp's id; the gateway drops a second delivery of the same id.
    public var externalID: String
    public var from: PhoneNumber
    public var fromName: String?
    public var body: String
    public var type: MessageType
    public var timestamp: Timestamp

    public init(externalID: String, from: PhoneNumber, fromName: String?, body: String, type: MessageType = .text, timestamp: Timestamp) {
        self.externalID = externalID
        self.from = from
        self.fromName = fromName
        self.body = body
        self.type = type
        self.timestamp = timestamp
    }
}

public struct MessageStatusChange: Sendable, Equatable {
    public var messageID: MessageID
    public var status: MessageStatus
    public var at: Timestamp

    public init(messageID: MessageID, status: MessageStatus, at: Timestamp) {
        self.messageID = messageID
        self.status = status
        self.at = at
    }
}

public enum SessionChange: Sendable, Equatable {
    case pairingStarted(PairingCode)
    case connected(phoneNumber: PhoneNumber, at: Timestamp)
    case disconnected(reason: DisconnectReason, at: Timestamp)
}

public enum DisconnectReason: String, Sendable, Equatable {
    case loggedOut = "logged_out"
    case droppedByPhone = "dropped_by_phone"
    case pairingExpired = "pairing_expired"
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
    /// The gateway could not store what happened; the engine did not acknowledge it.
    case recordingFailed
}

/// Creates the engine for a session; the gateway never names a concrete engine type.
public protocol EngineFactory: Sendable {
    func makeEngine(for session: Session, events: any EngineEventSink) throws(EngineError) -> any WhatsAppEngine
}
