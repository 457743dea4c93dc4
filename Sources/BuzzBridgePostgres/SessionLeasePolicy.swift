import BuzzBridgeCore

/// Who may take, keep and give back a session's lease, as pure decisions on the lease row and the
/// database's clock; ``SessionLeases`` applies them inside a transaction holding the row's lock.
///
/// Guarantees: a lease is granted only when nobody holds it or its holder's time is up, and every
/// grant draws a new, bigger token; only the holder with its current token renews or releases; a
/// protocol write is admitted only with the session's current token (``fence(session:writerToken:currentToken:)``).
/// A holder whose lease expired but whom nobody replaced may still renew: its token is still the
/// current one, so no other node can have written meanwhile.
public struct SessionLeasePolicy: Sendable, Equatable {
    /// This node's id, unique among the nodes sharing the database.
    public let node: String
    /// How long a grant or renewal lasts; the holder renews well within it.
    public let duration: Duration

    public init(node: String, duration: Duration) {
        self.node = node
        self.duration = duration
    }

    public func acquire(_ record: SessionLeaseRecord, now: Timestamp) -> SessionLeaseDecision {
        if let owner = record.owner, record.expiresAt > now { return .refuse(.held(owner: owner, until: record.expiresAt)) }
        return .write(owner: node, expiresAt: now.adding(duration), newToken: true)
    }

    public func renew(_ record: SessionLeaseRecord, token: Int64, now: Timestamp) -> SessionLeaseDecision {
        guard holds(record, token: token) else { return .refuse(.notHolder(owner: record.owner, token: record.token)) }
        return .write(owner: node, expiresAt: now.adding(duration), newToken: false)
    }

    /// Frees the lease at once (expiry `now`); the token stays, so the next grant's is bigger.
    public func release(_ record: SessionLeaseRecord, token: Int64, now: Timestamp) -> SessionLeaseDecision {
        guard holds(record, token: token) else { return .refuse(.notHolder(owner: record.owner, token: record.token)) }
        return .write(owner: nil, expiresAt: now, newToken: false)
    }

    private func holds(_ record: SessionLeaseRecord, token: Int64) -> Bool {
        record.owner == node && record.token == token
    }

    /// Why a protocol write with `writerToken` must be refused when the session's current token is
    /// `currentToken` (`nil`: no lease row), or `nil` when it may go ahead.
    public static func fence(session: SessionID, writerToken: Int64?, currentToken: Int64?) -> SessionLeaseError? {
        if let writerToken, writerToken == currentToken { return nil }
        return .fenced(session: session, writerToken: writerToken, currentToken: currentToken)
    }
}
