import BuzzBridgeCore
import BuzzBridgeEngines
import BuzzBridgeStorage
import Logging
import Synchronization

/// Sends one endpoint's queued deliveries until it has none.
///
/// Guarantees, with the store's claim (``WebhookStore/claimDueDeliveries(endpoint:now:limit:settling:)``):
/// - one conversation's deliveries go out one at a time, in event order: a conversation's next
///   delivery is not claimed while one of it is in flight or waits for a retry;
/// - different conversations' deliveries go out in parallel, at most
///   ``WebhookConfiguration/maximumInFlightPerEndpoint`` requests open at once, so a slow
///   conversation holds up only its own events while a request slot is free.
///
/// Each claim hands out runs of consecutive deliveries of a conversation; a lane sends one run in
/// order and stops at the first delivery to be retried, handing the rest back unsent. Outcomes
/// and hand-backs are written in the transaction of the next claim, which follows every finished
/// run: a transaction per round of claims rather than two per delivery.
final class EndpointDrain: Sendable {
    private enum Message: Sendable {
        /// A lane finished its run: what to write about it.
        case finished(DeliverySettlement)
        /// New deliveries may be claimable.
        case wake
    }

    private let endpoint: WebhookEndpointID
    private let store: any WebhookStore
    private let sender: WebhookSender
    private let configuration: WebhookConfiguration
    private let latency: StoreLatency
    private let privacy: LogPrivacy
    private let logger: Logger
    private let inbox = Mutex<[Message]>([])
    private let wakeup = Wakeup()
    private let stopping = Atomic<Bool>(false)

    /// Deliveries claimed at a time; claimed ones wait for a free request slot.
    static let claimLimit = 32

    init(
        endpoint: WebhookEndpointID, store: any WebhookStore, sender: WebhookSender, configuration: WebhookConfiguration, latency: StoreLatency,
        privacy: LogPrivacy, logger: Logger
    ) {
        self.privacy = privacy
        self.latency = latency
        self.endpoint = endpoint
        self.store = store
        self.sender = sender
        self.configuration = configuration
        self.logger = logger
    }

    /// Tells the drain that the store may hold new deliveries for it.
    func wake() {
        post(.wake)
    }

    /// Graceful shutdown: no new attempt starts; those under way finish, their outcomes are
    /// written, and the rest of what was claimed goes back to the queue.
    func stop() {
        stopping.store(true, ordering: .releasing)
        wakeup.signal()
    }

    private var isStopping: Bool { stopping.load(ordering: .acquiring) || Task.isCancelled }

    private func post(_ message: Message) {
        inbox.withLock { $0.append(message) }
        wakeup.signal()
    }

    func run() async {
        var state = DrainState(maximumInFlight: max(1, configuration.maximumInFlightPerEndpoint))
        await withDiscardingTaskGroup { lanes in
            drainLoop: while true {
                for message in inbox.withLock({ inbox in
                    defer { inbox.removeAll() }; return inbox
                }) {
                    switch message {
                    case .finished(let report): state.finished(report)
                    case .wake: state.shouldClaim = true
                    }
                }
                if isStopping { break drainLoop }
                do {
                    if state.shouldClaim, state.waiting.isEmpty, state.inFlight < state.maximumInFlight {
                        state.shouldClaim = false
                        let settling = state.settlement
                        let claimed = try await latency.measure(.claimDeliveries) {
                            try await store.claimDueDeliveries(endpoint: endpoint, now: .now(), limit: Self.claimLimit, settling: settling)
                        }
                        state.settlement = DeliverySettlement()
                        state.enqueue(claimed)
                    } else if !state.settlement.isEmpty, state.inFlight == state.maximumInFlight {
                        // No slot to claim for, but the outcomes should not wait for one.
                        _ = try await store.claimDueDeliveries(endpoint: endpoint, now: .now(), limit: 0, settling: state.settlement)
                        state.settlement = DeliverySettlement()
                    }
                    while state.inFlight < state.maximumInFlight, let run = state.nextRun() {
                        lanes.addTask { self.post(.finished(await self.send(run))) }
                    }
                    if state.inFlight == 0 {
                        // Nothing claimable now: end when nothing is queued, else wait for the next retry to fall due.
                        let backlog = try await store.deliveryBacklog(endpoint: endpoint, now: .now())
                        guard backlog.pending > 0 else { break drainLoop }
                        var deadline = ContinuousClock.now + configuration.pollInterval
                        if let due = backlog.nextDueAt {
                            deadline = min(
                                deadline, .now + .milliseconds(max(0, due.millisecondsSinceEpoch - Timestamp.now().millisecondsSinceEpoch)))
                        }
                        await wakeup.wait(until: deadline)
                    } else {
                        // A lane finishing or a new event wakes the drain.
                        await wakeup.wait()
                    }
                    state.shouldClaim = true
                } catch {
                    logger.error("webhook queue error", metadata: ["endpoint": "\(endpoint)", "error": "\(error)"])
                    break drainLoop
                }
            }
            // Stopping: claimed deliveries not yet started go back to the queue untouched; the
            // lanes still sending finish (a shutdown cancels their requests) before the group ends.
            state.settlement.released += state.waiting.flatMap { $0.map(\.delivery.id) }
            state.waiting.removeAll()
        }
        for message in inbox.withLock({ inbox in
            defer { inbox.removeAll() }; return inbox
        }) {
            if case .finished(let report) = message { state.settlement.append(report) }
        }
        do {
            if !state.settlement.isEmpty {
                _ = try await store.claimDueDeliveries(endpoint: endpoint, now: .now(), limit: 0, settling: state.settlement)
            }
        } catch {
            // What was not written is sent again after a restart, with the same delivery ids.
            logger.error("could not record webhook outcomes", metadata: ["endpoint": "\(endpoint)", "error": "\(error)"])
            try? await Task.sleep(for: configuration.pollInterval)
        }
    }

    /// Sends a run of one conversation's deliveries in order; stops at the first to be retried.
    private func send(_ run: [ClaimedDelivery]) async -> DeliverySettlement {
        var report = DeliverySettlement()
        for (index, claimed) in run.enumerated() {
            if isStopping {
                report.released += run[index...].map(\.delivery.id)
                break
            }
            let (result, attempt) = await sender.send(claimed)
            if Task.isCancelled, case .networkFailure = result {
                // Shutting down mid-send: not the endpoint's fault, so not an attempt.
                report.released += run[index...].map(\.delivery.id)
                break
            }
            // Retry delays count from the end of the failed attempt, as "after 1 second" reads.
            let outcome = configuration.retryPolicy.outcome(of: result, previousAttempts: claimed.delivery.roundAttempts, at: .now())
            report.completions.append(DeliveryCompletion(id: claimed.delivery.id, attempt: attempt, outcome: outcome))
            sender.metrics.outcome(outcome)
            switch outcome {
            case .succeeded:
                continue
            case .failed:
                logger.warning(
                    "webhook delivery failed",
                    metadata: [
                        "delivery": "\(claimed.delivery.id)", "url": privacy.url(claimed.delivery.url), "attempts": "\(attempt.number)",
                    ])
                // Given up: the conversation's later events go on.
                continue
            case .retry:
                // The conversation's later events wait behind the retry.
                report.released += run[(index + 1)...].map(\.delivery.id)
                return report
            }
        }
        return report
    }
}

/// What a drain holds between claims: runs waiting for a request slot, how many are in flight,
/// and what is to be written with the next claim.
private struct DrainState {
    let maximumInFlight: Int
    var inFlight = 0
    var waiting: [[ClaimedDelivery]] = []
    var settlement = DeliverySettlement()
    var shouldClaim = true

    init(maximumInFlight: Int) {
        self.maximumInFlight = maximumInFlight
    }

    mutating func finished(_ report: DeliverySettlement) {
        inFlight -= 1
        settlement.append(report)
        shouldClaim = true
    }

    /// Splits claimed deliveries (in event order) into one run per conversation, in the order
    /// of each conversation's first delivery. With a single request slot they stay one run, so
    /// the endpoint sees its events in the order they happened.
    mutating func enqueue(_ claimed: [ClaimedDelivery]) {
        guard maximumInFlight > 1 else {
            if !claimed.isEmpty { waiting.append(claimed) }
            return
        }
        var runIndex: [String: Int] = [:]
        for delivery in claimed {
            if let index = runIndex[delivery.delivery.conversation] {
                waiting[index].append(delivery)
            } else {
                runIndex[delivery.delivery.conversation] = waiting.count
                waiting.append([delivery])
            }
        }
    }

    mutating func nextRun() -> [ClaimedDelivery]? {
        guard !waiting.isEmpty else { return nil }
        inFlight += 1
        return waiting.removeFirst()
    }
}
