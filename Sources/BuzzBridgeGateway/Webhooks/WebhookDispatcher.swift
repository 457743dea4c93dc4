import AsyncHTTPClient
import BuzzBridgeCore
import BuzzBridgeEngines
import BuzzBridgeStorage
import Crypto
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Sends queued webhook deliveries.
///
/// A scheduler reads which endpoints have due deliveries and starts one ``EndpointDrain`` per
/// such endpoint, or wakes the one already running. A drain sends its endpoint's deliveries,
/// several conversations at once and each conversation's in event order, and ends when the
/// endpoint has nothing queued. So a slow or dead endpoint holds up only its own queue, and the
/// API never waits for any of it: it only writes to the outbox.
///
/// The scheduler wakes when the store rings after a commit, when a drain ends, when the
/// earliest retry falls due, and at least every poll interval.
///
/// On graceful shutdown no new attempt starts, and the attempts under way finish and have their
/// outcomes written, for at most ``WebhookConfiguration/shutdownGracePeriod`` (or until the
/// shutdown is cut short by cancellation): attempts still open then are abandoned, not counted,
/// and sent again after the restart.
final class WebhookDispatcher: Sendable {
    private let store: any WebhookStore
    private let configuration: WebhookConfiguration
    private let metrics: GatewayMetrics
    private let privacy: LogPrivacy
    private let logger: Logger
    private let drains = Mutex<[WebhookEndpointID: EndpointDrain]>([:])
    private let wakeup = Wakeup()
    private let stopping = Atomic<Bool>(false)

    init(store: any WebhookStore, configuration: WebhookConfiguration, metrics: GatewayMetrics, privacy: LogPrivacy, logger: Logger) {
        self.metrics = metrics
        self.privacy = privacy
        self.store = store
        self.configuration = configuration
        self.logger = logger
    }

    func run() async throws {
        let requeued = try await store.requeueInterruptedDeliveries(at: .now())
        if requeued > 0 { logger.notice("requeued webhook deliveries interrupted by a stop", metadata: ["count": "\(requeued)"]) }
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: Self.clientConfiguration(configuration))
        let sender = WebhookSender(client: client, configuration: configuration, metrics: metrics.webhooks)
        let token = store.deliveryBell.addListener { [wakeup] in wakeup.signal() }
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { workers in
                var nextOrphanCheck = ContinuousClock.now + Self.orphanCheckInterval
                while !Task.isCancelled, !stopping.load(ordering: .acquiring) {
                    if ContinuousClock.now >= nextOrphanCheck {
                        await requeueDeliveriesOfDeadNodes()
                        nextOrphanCheck = ContinuousClock.now + Self.orphanCheckInterval
                    }
                    let nextScan = await self.startDueDrains(in: &workers, sender: sender)
                    await self.wakeup.wait(until: nextScan)
                }
                // Stopping: the drains finish the attempts under way; each signals as it ends.
                let deadline = ContinuousClock.now + configuration.shutdownGracePeriod
                while !drains.withLock({ $0.isEmpty }), ContinuousClock.now < deadline, !Task.isCancelled {
                    await self.wakeup.wait(until: deadline)
                }
                workers.cancelAll()
            }
        } onGracefulShutdown: {
            self.stop()
        }
        store.deliveryBell.removeListener(token)
        try await client.shutdown()
    }

    /// How often deliveries that a dead node was sending are looked for (several nodes only).
    private static let orphanCheckInterval = Duration.seconds(5)

    /// Where several nodes share the store: a node that died mid-attempt left its deliveries
    /// marked as being sent; they go back to the queue under their ids and are sent from here.
    private func requeueDeliveriesOfDeadNodes() async {
        do {
            let requeued = try await store.requeueDeliveriesOfDeadNodes()
            if requeued > 0 { logger.notice("requeued webhook deliveries a stopped node was sending", metadata: ["count": "\(requeued)"]) }
        } catch {
            logger.error("could not look for webhook deliveries of stopped nodes", metadata: ["error": "\(error)"])
        }
    }

    /// Stops starting drains and tells the running ones to start no new attempt.
    private func stop() {
        stopping.store(true, ordering: .releasing)
        for drain in drains.withLock({ Array($0.values) }) { drain.stop() }
        wakeup.signal()
    }

    /// Starts a drain for each endpoint with a due delivery and none running, wakes the running
    /// ones; returns when the scheduler should look again at the latest.
    private func startDueDrains(in workers: inout DiscardingTaskGroup, sender: WebhookSender) async -> ContinuousClock.Instant {
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
            let endpoint = item.endpointID
            let wait = item.dueAt.millisecondsSinceEpoch - now.millisecondsSinceEpoch
            guard wait <= 0 else {
                // A running drain waits for its own retries; an idle endpoint is not needed before then.
                earliestFuture = min(earliestFuture ?? wait, wait)
                continue
            }
            if let running = drains.withLock({ $0[endpoint] }) {
                running.wake()
                continue
            }
            // Only this task adds drains, so none can have appeared since the look above.
            let drain = EndpointDrain(
                endpoint: endpoint, store: store, sender: sender, configuration: configuration, latency: metrics.store, privacy: privacy,
                logger: logger
            )
            drains.withLock { $0[endpoint] = drain }
            // A stop that came while the drain was made would have missed it.
            if stopping.load(ordering: .acquiring) { drain.stop() }
            workers.addTask {
                await drain.run()
                self.drains.withLock { _ = $0.removeValue(forKey: endpoint) }
                // Work queued while this drain was finishing is found by the next scan.
                self.wakeup.signal()
            }
        }
        guard let earliestFuture else { return pollDeadline }
        return min(pollDeadline, ContinuousClock.now + .milliseconds(earliestFuture))
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
        // Each request a drain has open needs its own connection (HTTP/1.1).
        client.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(8, configuration.maximumInFlightPerEndpoint)
        return client
    }
}

/// Builds, signs and sends one attempt.
struct WebhookSender: Sendable {
    let client: HTTPClient
    let configuration: WebhookConfiguration
    /// Counts attempts here and outcomes in the drains.
    let metrics: WebhookMetrics
    /// Answers are read only to keep the connection reusable; their content is not kept.
    static let maximumAnswerBytes = 64 * 1024

    func send(_ claimed: ClaimedDelivery) async -> (AttemptResult, WebhookAttempt) {
        let started = ContinuousClock.now
        let at = Timestamp.now()
        let result = await attempt(claimed, at: at)
        let elapsed = ContinuousClock.now - started
        metrics.attempt(result, took: elapsed)
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
        await wait()
        timer.cancel()
    }

    /// Returns at the first signal or when the task is cancelled.
    func wait() async {
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
    }
}
