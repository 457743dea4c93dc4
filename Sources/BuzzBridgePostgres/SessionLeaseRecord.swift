import BuzzBridgeCore

/// A session's row in `session_leases` as it stands: who holds it, with which fencing token,
/// until when (by the database's clock).
public struct SessionLeaseRecord: Sendable, Equatable {
    /// The node holding the lease; `nil` once released, or before anyone took it.
    public var owner: String?
    /// The last token granted for the session; 0 before the first grant. Tokens come from one
    /// database sequence, so each grant's token is bigger than every earlier one and never reused.
    public var token: Int64
    public var expiresAt: Timestamp

    public init(owner: String?, token: Int64, expiresAt: Timestamp) {
        self.owner = owner
        self.token = token
        self.expiresAt = expiresAt
    }
}
