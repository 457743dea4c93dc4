/// Whether a protocol write transaction checks the session's fencing token.
enum ProtocolFence: Sendable {
    /// The store was opened without leases: one node owns every session, nothing to check.
    case unfenced
    /// The store was opened with leases: the write goes ahead only if `token` (this node's, `nil`
    /// when it holds no lease on the session) is the session's current token.
    case token(Int64?)
}
