/// Which engine serves a session: the sandbox (test numbers, `bzb_test_` keys) or live WhatsApp.
public enum SessionKind: String, Sendable, Codable, CaseIterable {
    case sandbox
    case live

    /// API keys of a session carry its kind in their prefix, as the integration spec asks.
    public var keyPrefix: String {
        switch self {
        case .sandbox: "bzb_test_"
        case .live: "bzb_live_"
        }
    }
}

/// The spec's session states.
public enum SessionStatus: String, Sendable, Codable, CaseIterable {
    /// A QR code is out, waiting to be scanned.
    case pending
    /// Paired and connected.
    case active
    /// Never paired, logged out, or dropped by the phone.
    case disconnected
}

public struct Session: Sendable, Equatable {
    public var id: SessionID
    public var kind: SessionKind
    public var name: String
    public var status: SessionStatus
    public var phoneNumber: PhoneNumber?
    public var connectedAt: Timestamp?
    public var lastActivity: Timestamp?
    public var disconnectedAt: Timestamp?
    public var createdAt: Timestamp
    /// The account's LID user (WhatsApp's privacy id for it), once linked.
    public var lid: String?
    /// The name WhatsApp shows contacts, announced with presence; set by the admin or the account.
    public var pushName: String?
    /// The primary device's platform as WhatsApp reports it (`android`, `iphone`, `smbi`…).
    public var platform: String?
    /// Why the session last became `disconnected`; nil while it never was or since it linked again.
    public var disconnectReason: DisconnectReason?
    /// How the link of an `active` session is doing at the moment; nil otherwise.
    public var connection: SessionConnection?

    public init(
        id: SessionID, kind: SessionKind, name: String, status: SessionStatus = .disconnected,
        phoneNumber: PhoneNumber? = nil, connectedAt: Timestamp? = nil, lastActivity: Timestamp? = nil,
        disconnectedAt: Timestamp? = nil, createdAt: Timestamp, lid: String? = nil, pushName: String? = nil,
        platform: String? = nil, disconnectReason: DisconnectReason? = nil, connection: SessionConnection? = nil
    ) {
        self.id = id
        self.kind = kind
        self.name = name
        self.status = status
        self.phoneNumber = phoneNumber
        self.connectedAt = connectedAt
        self.lastActivity = lastActivity
        self.disconnectedAt = disconnectedAt
        self.createdAt = createdAt
        self.lid = lid
        self.pushName = pushName
        self.platform = platform
        self.disconnectReason = disconnectReason
        self.connection = connection
    }
}
