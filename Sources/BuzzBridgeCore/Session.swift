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

    public init(
        id: SessionID, kind: SessionKind, name: String, status: SessionStatus = .disconnected,
        phoneNumber: PhoneNumber? = nil, connectedAt: Timestamp? = nil, lastActivity: Timestamp? = nil,
        disconnectedAt: Timestamp? = nil, createdAt: Timestamp
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
    }
}
