import AsyncHTTPClient
import BuzzBridgeCore
import BuzzBridgeStorage
import Crypto
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Sends queued webhook deliveries.
///
/// A scheduler reads which endpoints have due deliveries and starts one worker per such
/// endpoint; a worker sends that endpoint's due deliveries one at a time, in event order, and
/// ends when none is due. So a slow or dead endpoint holds up only its own queue, and the API
/// never waits for any of it: it only writes to the outbox.
///
/// The scheduler wakes when the store rings after a commit, when a worker ends, when the
/// earliest retry falls due, and at least every poll interval.
final class WebhookDispatcher: Sendable {
    private let store: any WebhookStore
    private let configuration: WebhookConfiguration
    private let logger: Logger
    private let busyEndpoints = Mutex<Set<WebhookEndpointID>>([])
    private let wakeup = Wakeup()

    init(store: any WebhookStore, configuration: WebhookConfiguration, logger: Logger) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
    }

    func run() async throws {
        let requeued = try await store.requeueInterruptedDeliveries(at: .now())
        if requeued > 0 { logger.notice("requeued webhook deliveries interrupted by a stop", metadata: ["count": "\(requeued)"]) }
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: Self.clientConfiguration(configuration))
        let sender = WebhookSender(client: client, configuration: configuration)
        let token = store.deliveryBell.addListener { [wakeup] in wakeup.signal() }
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { workers in
                while !Task.isCancelled {
                    let nextScan = await self.startDueWorkers(in: &workers, sender: sender)
                    await self.wakeup.wait(until: nextScan)
                }
            }
        }
        store.deliveryBell.removeListener(token)
        try await client.shutdown()
    }

    /// Starts a worker for each endpoint with a due delivery and none running; returns when
    /// the scheduler should look again at the latest.
    private func startDueWorkers(in workers: inout DiscardingTaskGroup, sender: WebhookSender) async -> ContinuousClock.Instant {
        let pollDeadline = ContinuousClock.now + configuration.pollInterval
        let work: [PendingWebhookWork]
        do {
            work = try await store.pendingWebhookWork()
        } catch {
            logger.error("could not read the webhook queue", metadata: ["error": "\(error)"])
            return pollDeadline
        }
        let now = Timestamp.now()
        var earliestFuture: Int64?
        for item in work {
            let wait = item.dueAt.millisecondsSinceEpoch - now.millisecondsSinceEpoch
            guard wait <= 0 else {
                earliestFuture = min(earliestFuture ?? wait, wait)
                continue
            }
            let endpoint = item.endpointID
            guard busyEndpoints.withLock({ $0.insert(endpoint).inserted }) else { continue }
            workers.addTask {
                await self.drain(endpoint, sender: sender)
                self.busyEndpoints.withLock { _ = $0.remove(endpoint) }
                // Work queued while this worker was finishing is found by the next scan.
                self.wakeup.signal()
            }
        }
        guard let earliestFuture else { return pollDeadline }
        return min(pollDeadline, ContinuousClock.now + .milliseconds(earliestFuture))
    }

    /// Sends the endpoint's due deliveries in event order until none is due.
    ///
    /// Deliveries are claimed a batch at a time, and their outcomes written together: a
    /// transaction per batch rather than two per delivery, which is what lets the single SQLite
    /// writer keep up. Outcomes are written at the latest after ``flushInterval``, and at once
    /// after a failure (so its retry is scheduled on time). The price: a crash re-sends the
    /// deliveries whose outcome was not written yet (at most a batch, with the same ids).
    private func drain(_ endpoint: WebhookEndpointID, sender: WebhookSender) async {
        var outcomes = OutcomeBuffer(store: store)
        var batch: [ClaimedDelivery] = []
        do {
            while !Task.isCancelled {
                batch = try await store.claimDueDeliveries(endpoint: endpoint, now: .now(), limit: Self.batchSize)
                guard !batch.isEmpty else { return }
                for (index, claimed) in batch.enumerated() {
                    let (result, attempt) = await sender.send(claimed)
                    if Task.isCancelled, case .networkFailure = result {
                        // Shutting down mid-send: not the endpoint's fault, so not an attempt.
                        try await outcomes.flush()
                        await release(batch[index...])
                        return
                    }
                    // Retry delays count from the end of the failed attempt, as "after 1 second" reads.
                    let outcome = configuration.retryPolicy.outcome(of: result, previousAttempts: claimed.delivery.roundAttempts, at: .now())
                    outcomes.append(DeliveryCompletion(id: claimed.delivery.id, attempt: attempt, outcome: outcome))
                    if case .failed = outcome {
                        logger.warning("webhook delivery failed", metadata: [
                            "delivery": "\(claimed.delivery.id)", "url": "\(claimed.delivery.url)", "attempts": "\(attempt.number)",
                        ])
                    }
                    if outcome != .succeeded || outcomes.age > Self.flushInterval { try await outcomes.flush() }
                }
                try await outcomes.flush()
            }
            try await outcomes.flush()
        } catch {
            logger.error("webhook queue error", metadata: ["endpoint": "\(endpoint)", "error": "\(error)"])
            // Whatever of the batch has no written outcome goes back to the queue, to be sent again.
            await release(batch[...])
        }
    }

    static let batchSize = 32
    static let flushInterval = Duration.milliseconds(100)

    /// Claimed but not sent: back to the queue (a restart would do the same).
    private func release(_ claimed: ArraySlice<ClaimedDelivery>) async {
        for item in claimed { try? await store.releaseDelivery(item.delivery.id, at: .now()) }
    }

    private static func clientConfiguration(_ configuration: WebhookConfiguration) -> HTTPClient.Configuration {
        var client = HTTPClient.Configuration()
        // A redirect could lead anywhere, including past the address check.
        client.redirectConfiguration = .disallow
        let timeout = TimeAmount(configuration.timeout)
        client.timeout = .init(connect: timeout, read: timeout)
        client.decompression = .disabled
        // A refused connection is a failed attempt at once, to be retried on the spec's schedule,
        // not something the client quietly retries until the timeout.
        client.connectionPool.retryConnectionEstablishment = false
        return client
    }
}

/// Outcomes waiting to be written together.
private struct OutcomeBuffer {
    let store: any WebhookStore
    private var completions: [DeliveryCompletion] = []
    private var since = ContinuousClock.now

    init(store: any WebhookStore) {
        self.store = store
    }

    var isEmpty: Bool { completions.isEmpty }
    var age: Duration { completions.isEmpty ? .zero : ContinuousClock.now - since }

    mutating func append(_ completion: DeliveryCompletion) {
        if completions.isEmpty { since = .now }
        completions.append(completion)
    }

    mutating func flush() async throws {
        guard !completions.isEmpty else { return }
        try await store.completeDeliveries(completions)
        completions.removeAll()
    }
}

/// Builds, signs and sends one attempt.
struct WebhookSender: Sendable {
    let client: HTTPClient
    let configuration: WebhookConfiguration
    /// Answers are read only to keep the connection reusable; their content is not kept.
    static let maximumAnswerBytes = 64 * 1024

    func send(_ claimed: ClaimedDelivery) async -> (AttemptResult, WebhookAttempt) {
        let started = ContinuousClock.now
        let at = Timestamp.now()
        let result = await attempt(claimed, at: at)
        let elapsed = ContinuousClock.now - started
        let latency = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
        var status: Int?
        var error: String?
        switch result {
        case .answered(let code): status = code
        case .networkFailure(let message), .refused(let message): error = message
        }
        return (result, WebhookAttempt(number: claimed.delivery.attempts + 1, at: at, statusCode: status, error: error, latencyMilliseconds: latency))
    }

    private func attempt(_ claimed: ClaimedDelivery, at: Timestamp) async -> AttemptResult {
        let delivery = claimed.delivery
        if let problem = await WebhookURLPolicy(allowPrivateAddresses: configuration.allowPrivateAddresses).check(delivery.url) {
            return .refused("URL refused: \(problem)")
        }
        var request = HTTPClientRequest(url: delivery.url)
        request.method = .POST
        for (name, value) in WebhookSignature.headers(
            event: delivery.eventType, deliveryID: delivery.id.rawValue, timestamp: at, body: claimed.payload, secret: claimed.secret
        ) {
            request.headers.add(name: name, value: value)
        }
        request.body = .bytes(claimed.payload)
        do {
            let response = try await client.execute(request, timeout: TimeAmount(configuration.timeout))
            var read = 0
            for try await part in response.body {
                read += part.readableBytes
                if read > Self.maximumAnswerBytes { break }
            }
            return .answered(status: Int(response.status.code))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            return .networkFailure("no answer within \(configuration.timeout)")
        } catch {
            return .networkFailure(String(String(describing: error).prefix(300)))
        }
    }
}

/// The request headers of a delivery attempt.
public enum WebhookSignature {
    /// `X-Webhook-Signature` (the spec's): `sha256=` + hex HMAC-SHA256 of the body.
    /// `X-BuzzBridge-Signature`: the same over `timestamp.delivery_id.body`, so a receiver can
    /// trust the timestamp and delivery id too and refuse replays.
    public static func headers(event: String, deliveryID: String, timestamp: Timestamp, body: [UInt8], secret: String) -> [(String, String)] {
        let seconds = String(timestamp.millisecondsSinceEpoch / 1000)
        let key = Array(secret.utf8)
        return [
            ("Content-Type", "application/json"),
            ("User-Agent", "BuzzBridge-Webhooks/1"),
            ("X-BuzzBridge-Event", event),
            ("X-BuzzBridge-Delivery", deliveryID),
            ("X-BuzzBridge-Timestamp", seconds),
            ("X-Webhook-Signature", "sha256=" + HMACSHA256.hex(key: key, message: body)),
            ("X-BuzzBridge-Signature", "sha256=" + HMACSHA256.hex(key: key, message: Array("\(seconds).\(deliveryID).".utf8) + body)),
        ]
    }
}

enum HMACSHA256 {
    static func hex(key: [UInt8], message: [UInt8]) -> String {
        Provisioning.hex(Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key))))
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

/// A one-slot wake-up signal: a signal sent while nobody waits is kept for the next wait.
final class Wakeup: Sendable {
    private struct State {
        var signalled = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.signalled = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns at the first signal, at `deadline`, or when the task is cancelled.
    func wait(until deadline: ContinuousClock.Instant) async {
        let timer = Task { [weak self] in
            if (try? await Task.sleep(until: deadline, clock: .continuous)) != nil { self?.signal() }
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.signalled || Task.isCancelled {
                        state.signalled = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            signal()
        }
        timer.cancel()
    }
}
