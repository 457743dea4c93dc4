import BuzzBridgeCore

/// A lease a node holds on a session: its fencing token and expiry, by the database's clock.
public struct SessionLease: Sendable, Equatable {
    public let session: SessionID
    public let owner: String
    public let token: Int64
    public let expiresAt: Timestamp

    public init(session: SessionID, owner: String, token: Int64, expiresAt: Timestamp) {
        self.session = session
        self.owner = owner
        self.token = token
        self.expiresAt = expiresAt
    }
}
