import BuzzBridgeCore

/// Why a lease operation or a protocol write was refused.
public enum SessionLeaseError: Error, Sendable, Equatable {
    /// The lease is live and held by `owner` (possibly this node) until `until`.
    case held(owner: String, until: Timestamp)
    /// Renewing or releasing needs the current holder and its token; the row has these instead.
    case notHolder(owner: String?, token: Int64)
    /// A protocol write by a node whose token is not the session's current one (it lost the lease,
    /// or never held it): nothing of the transaction was written.
    case fenced(session: SessionID, writerToken: Int64?, currentToken: Int64?)
}
