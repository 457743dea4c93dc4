import BuzzBridgeCore
import Synchronization

/// Webhook endpoints, their delivery queue and the delivery log.
///
/// Deliveries are created by the store itself, in the transaction that records an
/// ``OutboxEvent``: one per active endpoint of the event's session that accepts its type. They
/// are therefore exactly as durable as the change they announce.
public protocol WebhookStore: Sendable {
    // Endpoints
    /// Creates an endpoint, or, when the session already has an active endpoint with this URL,
    /// replaces its secret and event filter. `created` tells which happened.
    func saveWebhookEndpoint(
        session: SessionID, url: String, secret: String, events: [String]?, at: Timestamp
    ) async throws -> (endpoint: WebhookEndpoint, created: Bool)
    /// The session's active endpoints, oldest first.
    func webhookEndpoints(session: SessionID) async throws -> [WebhookEndpoint]
    func webhookEndpoint(id: WebhookEndpointID) async throws -> WebhookEndpoint?
    /// Disables the endpoint (it stays in the log) and cancels its queued deliveries. Returns
    /// false when there is no such active endpoint.
    func removeWebhookEndpoint(id: WebhookEndpointID, at: Timestamp) async throws -> Bool

    // Dispatching
    /// After a crash: deliveries that were being sent go back to the queue, keeping their id.
    /// Where several nodes share the store, only those this node or a node no longer alive was
    /// sending: another live node's attempts under way are its own.
    func requeueInterruptedDeliveries(at: Timestamp) async throws -> Int
    /// Deliveries a node that has since died was sending go back to the queue, keeping their id;
    /// asked for now and then while serving. Nothing to do where one node serves the store.
    func requeueDeliveriesOfDeadNodes() async throws -> Int
    /// Active endpoints with queued deliveries, each with the earliest time one is due.
    func pendingWebhookWork() async throws -> [PendingWebhookWork]
    /// First writes `settling` (outcomes of earlier claims, and claimed deliveries handed back
    /// unsent), then marks up to `limit` (0: only settles) of the endpoint's deliveries as being sent and returns
    /// them in event order with what their requests need; all in one transaction.
    ///
    /// A delivery is claimable when it is pending and due, no delivery of its conversation (to
    /// this endpoint) is being sent, and every earlier pending one of its conversation is
    /// claimed with it. So a claim never hands out a delivery while one of its conversation is in
    /// flight or waits for a retry before it. One claim may hand out several deliveries of one
    /// conversation, consecutive in event order: the caller sends them one after the other, in
    /// that order, and hands back the rest unsent when one of them is to be retried.
    func claimDueDeliveries(
        endpoint: WebhookEndpointID, now: Timestamp, limit: Int, settling: DeliverySettlement
    ) async throws -> [ClaimedDelivery]
    /// How many of the endpoint's deliveries are pending, and the earliest time after `now` that
    /// one of them falls due (a retry).
    func deliveryBacklog(endpoint: WebhookEndpointID, now: Timestamp) async throws -> DeliveryBacklog
    /// Deliveries not yet finished, over every endpoint: pending (due or waiting for a retry) or being sent.
    func outboxDepth() async throws -> Int
    /// Logs attempts of claimed deliveries and moves each to its outcome's state, in one transaction.
    func completeDeliveries(_ completions: [DeliveryCompletion]) async throws
    /// Returns a claimed delivery to the queue without counting an attempt (shutdown mid-send).
    func releaseDelivery(_ id: DeliveryID, at: Timestamp) async throws

    // Delivery log
    /// Newest first.
    func webhookDeliveries(_ query: DeliveryQuery) async throws -> [WebhookDelivery]
    func webhookDelivery(id: DeliveryID) async throws -> WebhookDelivery?
    func webhookAttempts(of id: DeliveryID) async throws -> [WebhookAttempt]
    /// The exact body the delivery sends.
    func webhookPayload(of id: DeliveryID) async throws -> [UInt8]?
    /// Queues a finished (failed or succeeded) delivery again, same id, with a fresh retry budget.
    func redeliver(_ id: DeliveryID, at: Timestamp) async throws -> RedeliveryResult
    /// Queues every failed delivery of the session's active endpoints again; returns how many.
    func redeliverFailed(session: SessionID, at: Timestamp) async throws -> Int

    /// Rung after every commit that may have queued deliveries, so a dispatcher in this process
    /// need not wait for its next poll.
    var deliveryBell: DeliveryBell { get }
}

/// A webhook endpoint (`wh_…`).
public struct WebhookEndpointID: Hashable, Sendable, Codable, CustomStringConvertible, RawRepresentable {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static func generate() -> WebhookEndpointID { WebhookEndpointID(rawValue: "wh_" + RandomToken.base62(length: 20)) }
    public var description: String { rawValue }
}

/// One event for one endpoint (`dlv_…`); retries and redeliveries keep it.
public struct DeliveryID: Hashable, Sendable, Codable, CustomStringConvertible, RawRepresentable {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
}

public struct WebhookEndpoint: Sendable, Equatable {
    public var id: WebhookEndpointID
    public var sessionID: SessionID
    public var url: String
    public var secret: String
    /// The event types sent to this endpoint; nil means all, including types added later.
    public var events: [String]?
    public var createdAt: Timestamp
    public var updatedAt: Timestamp
    public var disabledAt: Timestamp?

    public init(
        id: WebhookEndpointID, sessionID: SessionID, url: String, secret: String, events: [String]?,
        createdAt: Timestamp, updatedAt: Timestamp, disabledAt: Timestamp? = nil
    ) {
        self.id = id
        self.sessionID = sessionID
        self.url = url
        self.secret = secret
        self.events = events
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.disabledAt = disabledAt
    }
}

public enum DeliveryState: String, Sendable, Codable, CaseIterable {
    /// Waiting for its first attempt or its next retry (`nextAttemptAt`).
    case pending
    /// An attempt is under way.
    case delivering
    case succeeded
    /// Refused (4xx) or out of retries.
    case failed
    /// Its endpoint was removed before it could be sent.
    case cancelled
}

public struct WebhookDelivery: Sendable, Equatable {
    public var id: DeliveryID
    public var eventSeq: Int64
    public var eventType: String
    /// The event's conversation (``OutboxEvent/conversation``): empty for session-level events.
    public var conversation: String
    public var endpointID: WebhookEndpointID
    public var url: String
    public var sessionID: SessionID
    public var state: DeliveryState
    /// Attempts made so far, over all rounds; also the number of the last logged attempt.
    public var attempts: Int
    /// Attempts since the delivery was last queued by hand; the retry schedule counts these.
    public var roundAttempts: Int
    public var nextAttemptAt: Timestamp?
    public var lastStatus: Int?
    public var lastError: String?
    public var createdAt: Timestamp
    public var updatedAt: Timestamp

    public init(
        id: DeliveryID, eventSeq: Int64, eventType: String, conversation: String = "", endpointID: WebhookEndpointID, url: String,
        sessionID: SessionID, state: DeliveryState, attempts: Int, roundAttempts: Int, nextAttemptAt: Timestamp?, lastStatus: Int?,
        lastError: String?, createdAt: Timestamp, updatedAt: Timestamp
    ) {
        self.id = id
        self.eventSeq = eventSeq
        self.eventType = eventType
        self.conversation = conversation
        self.endpointID = endpointID
        self.url = url
        self.sessionID = sessionID
        self.state = state
        self.attempts = attempts
        self.roundAttempts = roundAttempts
        self.nextAttemptAt = nextAttemptAt
        self.lastStatus = lastStatus
        self.lastError = lastError
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

public struct WebhookAttempt: Sendable, Equatable {
    /// 1 for the first attempt of the delivery.
    public var number: Int
    public var at: Timestamp
    public var statusCode: Int?
    /// The network error when there was no HTTP answer.
    public var error: String?
    public var latencyMilliseconds: Int

    public init(number: Int, at: Timestamp, statusCode: Int?, error: String?, latencyMilliseconds: Int) {
        self.number = number
        self.at = at
        self.statusCode = statusCode
        self.error = error
        self.latencyMilliseconds = latencyMilliseconds
    }
}

extension WebhookStore {
    public func claimDueDeliveries(endpoint: WebhookEndpointID, now: Timestamp, limit: Int) async throws -> [ClaimedDelivery] {
        try await claimDueDeliveries(endpoint: endpoint, now: now, limit: limit, settling: DeliverySettlement())
    }
}

/// What a dispatcher writes back about deliveries it claimed: attempts made, and deliveries
/// returned to the queue without an attempt.
public struct DeliverySettlement: Sendable, Equatable {
    public var completions: [DeliveryCompletion]
    public var released: [DeliveryID]

    public init(completions: [DeliveryCompletion] = [], released: [DeliveryID] = []) {
        self.completions = completions
        self.released = released
    }

    public var isEmpty: Bool { completions.isEmpty && released.isEmpty }

    public mutating func append(_ other: DeliverySettlement) {
        completions += other.completions
        released += other.released
    }
}

/// A delivery the caller now owns until it completes or releases it.
public struct ClaimedDelivery: Sendable, Equatable {
    public var delivery: WebhookDelivery
    public var secret: String
    /// The exact bytes to send and sign.
    public var payload: [UInt8]

    public init(delivery: WebhookDelivery, secret: String, payload: [UInt8]) {
        self.delivery = delivery
        self.secret = secret
        self.payload = payload
    }
}

public struct DeliveryCompletion: Sendable, Equatable {
    public var id: DeliveryID
    public var attempt: WebhookAttempt
    public var outcome: DeliveryOutcome

    public init(id: DeliveryID, attempt: WebhookAttempt, outcome: DeliveryOutcome) {
        self.id = id
        self.attempt = attempt
        self.outcome = outcome
    }
}

public enum DeliveryOutcome: Sendable, Equatable {
    case succeeded
    case retry(at: Timestamp)
    case failed
}

public struct DeliveryBacklog: Sendable, Equatable {
    public var pending: Int
    public var nextDueAt: Timestamp?

    public init(pending: Int, nextDueAt: Timestamp?) {
        self.pending = pending
        self.nextDueAt = nextDueAt
    }
}

public struct PendingWebhookWork: Sendable, Equatable {
    public var endpointID: WebhookEndpointID
    public var dueAt: Timestamp

    public init(endpointID: WebhookEndpointID, dueAt: Timestamp) {
        self.endpointID = endpointID
        self.dueAt = dueAt
    }
}

public struct DeliveryQuery: Sendable, Equatable {
    public var sessionID: SessionID
    public var state: DeliveryState?
    public var limit: Int

    public init(sessionID: SessionID, state: DeliveryState? = nil, limit: Int = 50) {
        self.sessionID = sessionID
        self.state = state
        self.limit = limit
    }
}

public enum RedeliveryResult: Sendable, Equatable {
    case queued(WebhookDelivery)
    case notFound
    /// Still pending or being sent: it will go out without help.
    case alreadyQueued(DeliveryState)
    case endpointRemoved
}

/// Tells listeners that deliveries may have been queued. Listeners must be cheap and must not
/// block: they run on the committing task.
public final class DeliveryBell: Sendable {
    private let listeners = Mutex<[Int: @Sendable () -> Void]>([:])
    private let nextListener = Atomic<Int>(0)

    public init() {}

    public func ring() {
        let current = listeners.withLock { Array($0.values) }
        for listener in current { listener() }
    }

    /// Returns a token for ``removeListener(_:)``.
    public func addListener(_ listener: @escaping @Sendable () -> Void) -> Int {
        let key = nextListener.add(1, ordering: .relaxed).oldValue
        listeners.withLock { $0[key] = listener }
        return key
    }

    public func removeListener(_ token: Int) {
        _ = listeners.withLock { $0.removeValue(forKey: token) }
    }
}

extension WebhookStore {
    public func requeueDeliveriesOfDeadNodes() async throws -> Int { 0 }
}
