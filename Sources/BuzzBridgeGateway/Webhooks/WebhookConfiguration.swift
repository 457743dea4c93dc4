import BuzzBridgeCore
import BuzzBridgeStorage

/// How webhooks are sent. The defaults are the integration spec's.
public struct WebhookConfiguration: Sendable {
    /// Waits before the retries of a failed attempt; one retry per element, then give up.
    public var retryDelays: [Duration]
    /// An attempt without a complete answer within this time counts as a network failure.
    public var timeout: Duration
    /// Allows endpoints on loopback, private, link-local and other non-public addresses.
    /// Off in production: otherwise a webhook URL could reach the gateway's own network.
    public var allowPrivateAddresses: Bool
    /// How often the queue is read even when nothing rang: deliveries queued by another process
    /// (the CLI) are picked up within this time.
    public var pollInterval: Duration
    /// Requests open at once to one endpoint, each for a different conversation (one conversation's
    /// events go out one at a time, in order). 1 sends an endpoint's events one at a time.
    public var maximumInFlightPerEndpoint: Int

    public static let defaultMaximumInFlightPerEndpoint = 8
    /// On graceful shutdown, how long attempts under way may take to finish; those still open
    /// then are abandoned (not counted) and sent again after the restart.
    public var shutdownGracePeriod: Duration

    public init(
        retryDelays: [Duration] = [.seconds(1), .seconds(5), .seconds(15)], timeout: Duration = .seconds(30),
        allowPrivateAddresses: Bool = false, pollInterval: Duration = .seconds(1),
        maximumInFlightPerEndpoint: Int = WebhookConfiguration.defaultMaximumInFlightPerEndpoint,
        shutdownGracePeriod: Duration = .seconds(10)
    ) {
        self.shutdownGracePeriod = shutdownGracePeriod
        self.retryDelays = retryDelays
        self.timeout = timeout
        self.allowPrivateAddresses = allowPrivateAddresses
        self.pollInterval = pollInterval
        self.maximumInFlightPerEndpoint = maximumInFlightPerEndpoint
    }

    var retryPolicy: RetryPolicy { RetryPolicy(delays: retryDelays) }
}

/// What one attempt came to.
enum AttemptResult: Sendable, Equatable {
    case answered(status: Int)
    /// Refused, reset, timed out, TLS failure: no HTTP answer at all.
    case networkFailure(String)
    /// The URL or the address it resolves to is not allowed; sending again cannot help.
    case refused(String)
}

/// The spec's retry rules: retry on 5xx and on network failures, never on 4xx, stop on 2xx.
struct RetryPolicy: Sendable {
    let delays: [Duration]

    /// `previousAttempts` counts the attempts of this round before the one that produced `result`.
    func outcome(of result: AttemptResult, previousAttempts: Int, at now: Timestamp) -> DeliveryOutcome {
        switch result {
        case .answered(let status) where (200..<300).contains(status):
            return .succeeded
        case .answered(let status) where status >= 500:
            return retryOrGiveUp(previousAttempts: previousAttempts, at: now)
        case .networkFailure:
            return retryOrGiveUp(previousAttempts: previousAttempts, at: now)
        case .answered, .refused:
            // 1xx, 3xx (redirects are not followed: they could point anywhere), 4xx, refused.
            return .failed
        }
    }

    private func retryOrGiveUp(previousAttempts: Int, at now: Timestamp) -> DeliveryOutcome {
        guard previousAttempts < delays.count else { return .failed }
        return .retry(at: now.adding(delays[previousAttempts]))
    }
}
