import BuzzBridgeCore

/// Everything the gateway keeps. SQLite implements it today; PostgreSQL will slot in behind it.
///
/// Every method that changes a message or a session takes the outbox events that announce the
/// change and writes them in the same transaction, so an event exists exactly when its change does.
public protocol GatewayStore: Sendable {
    // Sessions
    func createSession(_ session: Session) async throws
    func session(_ id: SessionID) async throws -> Session?
    func sessions() async throws -> [Session]
    func updateSession(_ session: Session, events: [OutboxEvent]) async throws
    /// Sets only the names an operator controls, leaving what the engine writes untouched;
    /// returns the updated session, or nil when there is none.
    func updateSessionNames(_ id: SessionID, name: String, pushName: String?) async throws -> Session?

    // API keys
    func createAPIKey(_ key: APIKeyRecord) async throws
    func apiKey(id: String) async throws -> APIKeyRecord?
    func apiKeys(session: SessionID) async throws -> [APIKeyRecord]
    /// Returns false when no such unrevoked key exists.
    func revokeAPIKey(id: String, at: Timestamp) async throws -> Bool
    func recordAPIKeyUse(id: String, at: Timestamp) async throws

    // Messages
    /// Message changes also move the session's `last_activity` forward, in the same transaction.
    /// Returns false, writing nothing, when the session already holds a message with the same
    /// direction and external id (an engine redelivering after a reconnect).
    func insertMessage(_ message: Message, events: [OutboxEvent]) async throws -> Bool
    /// Stores an outgoing message made by a request that carried an `Idempotency-Key`, with the key.
    func insertMessage(_ message: Message, idempotency: IdempotencyTag) async throws
    /// The message a key made in `session`, with the first answer once it is recorded.
    func idempotentSend(key: String, in session: SessionID) async throws -> IdempotentSend?
    /// Records the first answer to the request that carried `key` in `session`; nothing when that
    /// request stored no message.
    func recordAnswer(status: Int, body: [UInt8], forIdempotencyKey key: String, in session: SessionID) async throws
    /// Frees a key whose 24 hours are over, so that it may be used again.
    func releaseIdempotencyKey(_ key: String, in session: SessionID) async throws
    /// Moves a message to `status` if that is a forward move (see ``MessageStatus/canAdvance(to:)``)
    /// and returns the updated message, or nil when it was not moved. `announce` builds the events
    /// to store with the change from the updated message.
    func advanceMessage(
        _ id: MessageID, in session: SessionID, to status: MessageStatus, at: Timestamp,
        externalID: String?, announce: @escaping @Sendable (Message) -> [OutboxEvent]
    ) async throws -> Message?
    /// Replaces the media facts of a media message (a file fetched, or failed) and stores the
    /// events `announce` builds from the updated message; nil when there is no such media message.
    func updateMedia(
        of id: MessageID, in session: SessionID, to media: MediaAttachment, announce: @escaping @Sendable (Message) -> [OutboxEvent]
    ) async throws -> Message?
    /// Media messages whose file is still to be fetched (`pending` or `downloading`, with a
    /// download source), oldest first: the downloads to resume after a restart.
    func messagesAwaitingMedia() async throws -> [Message]
    func message(_ id: MessageID, in session: SessionID) async throws -> Message?
    /// A media message by id alone, whatever its session: for signed media links, whose
    /// signature already names the message.
    func message(mediaOf id: MessageID) async throws -> Message?
    func message(externalID: String, direction: MessageDirection, in session: SessionID) async throws -> Message?
    func messages(_ query: MessageQuery) async throws -> MessagePage
    func conversation(_ query: ConversationQuery) async throws -> ConversationPage

    // Instance settings (admin credential hash, …)
    func setting(_ key: String) async throws -> String?
    func setSetting(_ key: String, to value: String) async throws

    /// Reads the schema version: answers only when the store does.
    func schemaStatus() async throws -> SchemaStatus

    /// A request counter that every node sharing this store sees (`name` keeps counters apart),
    /// or nil when the store serves one node and a counter in memory is exact and cheaper.
    func sharedRateLimitCounter(named name: String, window: Double) -> (any RateLimitCounter)?

    /// Where a node that does not own a session queues its sends for the owner, or nil when the
    /// store serves one node (every session is then its own).
    var sendQueue: (any SendQueueStore)? { get }

    func close() async throws
}

extension GatewayStore {
    public func sharedRateLimitCounter(named name: String, window: Double) -> (any RateLimitCounter)? { nil }
    public var sendQueue: (any SendQueueStore)? { nil }
}

/// Migrations applied to the database and known to this build; equal once migrated.
public struct SchemaStatus: Sendable, Equatable {
    public var applied: Int
    public var known: Int

    public init(applied: Int, known: Int) {
        self.applied = applied
        self.known = known
    }
}

/// An event recorded for delivery to the session's webhooks.
public struct OutboxEvent: Sendable, Equatable {
    public var sessionID: SessionID
    /// `message.received`, `message.status` or `session.status`.
    public var type: String
    /// The exact JSON body that will be sent and signed.
    public var payload: [UInt8]
    public var createdAt: Timestamp
    /// The conversation the event belongs to within its session: the contact's phone number
    /// (E.164) for message events, empty for session-level events. Webhook deliveries keep the
    /// order of one conversation's events and may overtake across conversations.
    public var conversation: String

    public init(sessionID: SessionID, type: String, payload: [UInt8], createdAt: Timestamp, conversation: String = "") {
        self.sessionID = sessionID
        self.type = type
        self.payload = payload
        self.createdAt = createdAt
        self.conversation = conversation
    }
}

public struct APIKeyRecord: Sendable, Equatable {
    /// The public part of the key, also its lookup id.
    public var id: String
    public var sessionID: SessionID
    /// SHA-256 of the whole key; the key itself is never stored.
    public var secretHash: [UInt8]
    public var label: String?
    public var createdAt: Timestamp
    public var lastUsedAt: Timestamp?
    public var revokedAt: Timestamp?
    /// What the key may do.
    public var scopes: Set<APIKeyScope>
    /// The key's own requests-per-minute limit; nil means the instance default.
    public var requestsPerMinute: Int?
    /// After this the key no longer works.
    public var expiresAt: Timestamp?

    public init(
        id: String, sessionID: SessionID, secretHash: [UInt8], label: String?, createdAt: Timestamp,
        lastUsedAt: Timestamp? = nil, revokedAt: Timestamp? = nil, scopes: Set<APIKeyScope> = Set(APIKeyScope.allCases),
        requestsPerMinute: Int? = nil, expiresAt: Timestamp? = nil
    ) {
        self.id = id
        self.sessionID = sessionID
        self.secretHash = secretHash
        self.label = label
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
        self.scopes = scopes
        self.requestsPerMinute = requestsPerMinute
        self.expiresAt = expiresAt
    }

    public func isExpired(at time: Timestamp) -> Bool {
        expiresAt.map { $0 <= time } ?? false
    }
}

public enum ReadFilter: String, Sendable, CaseIterable {
    case all, unread, read
}

public struct MessageQuery: Sendable, Equatable {
    public var sessionID: SessionID
    public var limit: Int
    public var offset: Int
    public var status: ReadFilter
    public var contact: PhoneNumber?
    public var from: Timestamp?
    public var to: Timestamp?

    public init(
        sessionID: SessionID, limit: Int, offset: Int, status: ReadFilter = .all, contact: PhoneNumber? = nil, from: Timestamp? = nil,
        to: Timestamp? = nil
    ) {
        self.sessionID = sessionID
        self.limit = limit
        self.offset = offset
        self.status = status
        self.contact = contact
        self.from = from
        self.to = to
    }
}

public struct MessagePage: Sendable, Equatable {
    /// Newest first.
    public var messages: [Message]
    public var total: Int

    public init(messages: [Message], total: Int) {
        self.messages = messages
        self.total = total
    }
}

public struct ConversationQuery: Sendable, Equatable {
    public var sessionID: SessionID
    public var contact: PhoneNumber
    public var limit: Int
    /// Only messages older than this one.
    public var before: MessageID?

    public init(sessionID: SessionID, contact: PhoneNumber, limit: Int, before: MessageID? = nil) {
        self.sessionID = sessionID
        self.contact = contact
        self.limit = limit
        self.before = before
    }
}

public struct ConversationPage: Sendable, Equatable {
    /// Oldest first, as a chat reads.
    public var messages: [Message]
    public var contactName: String?
    public var totalMessages: Int
    public var hasMore: Bool

    public init(messages: [Message], contactName: String?, totalMessages: Int, hasMore: Bool) {
        self.messages = messages
        self.contactName = contactName
        self.totalMessages = totalMessages
        self.hasMore = hasMore
    }
}

public enum StoreError: Error, Sendable, Equatable {
    /// `before` names no message of that conversation.
    case unknownCursor(MessageID)
    case corruptRow(String)
    /// The database was written by a newer BuzzBridge (schema `found`, this build knows up to
    /// `supported`); opening it would mark it older than it is and run old migrations over it.
    case schemaTooNew(found: Int, supported: Int)
}

extension StoreError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .unknownCursor(let id): "no message \(id) in this conversation"
        case .corruptRow(let what): "a stored row could not be read: \(what)"
        case .schemaTooNew(let found, let supported):
            "the database has schema version \(found) but this build knows versions up to \(supported): "
                + "it was written by a newer BuzzBridge; run that version, or restore the backup taken before the upgrade"
        }
    }
}

/// A send's `Idempotency-Key` and the digest of its request (phone, text, reply_to).
public struct IdempotencyTag: Sendable, Equatable {
    public var key: String
    public var fingerprint: String

    public init(key: String, fingerprint: String) {
        self.key = key
        self.fingerprint = fingerprint
    }
}

/// What an `Idempotency-Key` made: its message, and the first answer once recorded.
public struct IdempotentSend: Sendable, Equatable {
    public var message: Message
    public var fingerprint: String
    public var answerStatus: Int?
    public var answerBody: [UInt8]?

    public init(message: Message, fingerprint: String, answerStatus: Int?, answerBody: [UInt8]?) {
        self.message = message
        self.fingerprint = fingerprint
        self.answerStatus = answerStatus
        self.answerBody = answerBody
    }
}
