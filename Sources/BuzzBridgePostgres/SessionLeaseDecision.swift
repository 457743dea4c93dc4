import BuzzBridgeCore

/// What ``SessionLeasePolicy`` decided about a lease row.
public enum SessionLeaseDecision: Sendable, Equatable {
    /// Write the row: its new owner and expiry, and whether a new fencing token is drawn (every
    /// acquisition draws one; renewing and releasing keep the token).
    case write(owner: String?, expiresAt: Timestamp, newToken: Bool)
    /// Leave the row as it is and tell the caller why.
    case refuse(SessionLeaseError)
}
