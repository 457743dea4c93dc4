import BuzzBridgeCore

/// Sends accepted by a node that does not own the session, waiting for the owner (several nodes
/// on one database). The accepting node stores the message as `pending` with its queue entry and
/// wakes the owner; the owner claims its sessions' entries, sends each through its engine and
/// records the outcome.
///
/// Exactly once: a claim is committed under the claimer's lease token before the send starts,
/// and the message's status change and the entry's removal are one transaction after it. An entry
/// still claimed under an older token was being sent by a previous owner that stopped between
/// its claim and its record: it is not sent again (it may have left), its message is failed
/// instead. A message is therefore never sent twice; in that one window it may be reported
/// `failed` although it arrived, as a send whose acknowledgement never came is.
///
/// A store that serves one node (SQLite) has no implementation: every session is its own.
public protocol SendQueueStore: Sendable {
    /// Stores `message` (outgoing, `pending`, no WhatsApp id yet) and its queue entry in one
    /// transaction, with `idempotency` when given, and wakes the nodes listening once it commits.
    func enqueue(_ message: Message, idempotency: IdempotencyTag?) async throws

    /// Which of `sessions` have entries in the queue (claimed or not), in one request: what a
    /// poll looks at before claiming.
    func queuedSessions(among sessions: Set<SessionID>) async throws -> Set<SessionID>

    /// Claims up to `limit` unclaimed entries of `session` under `token` (this node's lease
    /// token), oldest first, skipping entries another transaction is claiming; also answers the
    /// entries claimed under an older token (a previous owner's sends left unrecorded).
    func claim(session: SessionID, token: Int64, limit: Int) async throws -> QueueClaim

    /// Gives a claim back, unclaimed, for a send that did not start (this node cannot send now).
    func unclaim(_ message: MessageID, in session: SessionID) async throws

    /// Gives a claimed message the WhatsApp id it will be sent with, before it is sent, so that
    /// receipts find it even if the node stops right after sending.
    func assign(externalID: String, to message: MessageID, in session: SessionID) async throws

    /// Moves the message to `status` (as ``GatewayStore/advanceMessage(_:in:to:at:externalID:announce:)``)
    /// and removes its queue entry, in one transaction; returns the moved message, nil when its
    /// status was already further along (the entry is removed all the same).
    func finish(
        _ message: MessageID, in session: SessionID, as status: MessageStatus, at: Timestamp, externalID: String?,
        announce: @escaping @Sendable (Message) -> [OutboxEvent]
    ) async throws -> Message?

    /// Calls `wake` with the session of each send queued from now on, by any node, until the task
    /// is cancelled; throws when the connection it listens on fails.
    func listen(_ wake: @escaping @Sendable (SessionID) -> Void) async throws
}

/// What ``SendQueueStore/claim(session:token:limit:)`` took.
public struct QueueClaim: Sendable, Equatable {
    /// Claimed now, oldest first: to be sent.
    public var claimed: [Message]
    /// Claimed by a previous owner that never recorded the outcome: never to be sent again.
    public var abandoned: [Message]

    public init(claimed: [Message], abandoned: [Message]) {
        self.claimed = claimed
        self.abandoned = abandoned
    }
}
