import BuzzBridgeStorage
import CoreMetrics

/// Webhook deliveries by outcome, attempts by result, and how long attempts took.
struct WebhookMetrics: Sendable {
    private let delivered: Counter
    private let retrying: Counter
    private let failed: Counter
    private let attempts: [AttemptKind: Counter]
    private let attemptDuration: Timer

    /// An attempt's result, as a label: the HTTP status class, or why there was no answer.
    enum AttemptKind: String, CaseIterable, Sendable {
        case answered2xx = "2xx", answered3xx = "3xx", answered4xx = "4xx", answered5xx = "5xx"
        case networkFailure = "network_failure", refused

        init(_ result: AttemptResult) {
            switch result {
            case .answered(let status):
                switch status {
                case ..<300: self = .answered2xx
                case 300..<400: self = .answered3xx
                case 400..<500: self = .answered4xx
                default: self = .answered5xx
                }
            case .networkFailure: self = .networkFailure
            case .refused: self = .refused
            }
        }
    }

    init(factory: any MetricsFactory) {
        func outcome(_ name: String) -> Counter {
            Counter(label: "buzzbridge_webhook_deliveries_total", dimensions: [("outcome", name)], factory: factory)
        }
        self.delivered = outcome("succeeded")
        self.retrying = outcome("retry")
        self.failed = outcome("failed")
        self.attempts = Dictionary(
            uniqueKeysWithValues: AttemptKind.allCases.map {
                ($0, Counter(label: "buzzbridge_webhook_attempts_total", dimensions: [("result", $0.rawValue)], factory: factory))
            })
        self.attemptDuration = Timer(label: "buzzbridge_webhook_attempt_duration_seconds", factory: factory)
    }

    func attempt(_ result: AttemptResult, took duration: Duration) {
        attempts[AttemptKind(result)]?.increment()
        attemptDuration.recordNanoseconds(duration.nanoseconds)
    }

    /// What an attempt decided for its delivery: done, to be retried, or given up.
    func outcome(_ outcome: DeliveryOutcome) {
        switch outcome {
        case .succeeded: delivered.increment()
        case .retry: retrying.increment()
        case .failed: failed.increment()
        }
    }
}
