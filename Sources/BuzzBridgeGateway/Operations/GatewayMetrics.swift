import BuzzBridgeCore
import BuzzBridgeStorage
import CoreMetrics
import Prometheus

/// The gateway's metrics, in Prometheus' text format at `/metrics`.
///
/// Each gateway owns its registry and hands its factory explicitly to every metric it makes, so
/// several gateways in one process (as in the tests) never share or overwrite each other's counts,
/// and nothing depends on `MetricsSystem.bootstrap` having been called (the CLI still bootstraps
/// the global system with ``factory`` so that libraries using swift-metrics report here too).
///
/// What the request path pays: every metric it touches is made once, at start or the first time
/// its labels occur, and kept; recording is then an atomic add (counters) or a short locked
/// update of a histogram's buckets. Gauges that describe the store (sessions by state, the
/// webhook outbox) are read from the store when `/metrics` is scraped, not kept up to date on
/// every change.
public final class GatewayMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    /// The swift-metrics factory writing into ``registry``.
    public let factory: PrometheusMetricsFactory
    let http: HTTPRequestMetrics
    let messages: MessageMetrics
    let webhooks: WebhookMetrics
    let store: StoreLatency
    private let sessions: [SessionKind: [SessionStatus: CoreMetrics.Gauge]]
    private let outboxDepth: CoreMetrics.Gauge

    public init() {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.latencyBuckets
        self.registry = registry
        self.factory = factory
        self.http = HTTPRequestMetrics(factory: factory)
        self.messages = MessageMetrics(factory: factory)
        self.webhooks = WebhookMetrics(factory: factory)
        self.store = StoreLatency(factory: factory)
        self.sessions = Dictionary(
            uniqueKeysWithValues: SessionKind.allCases.map { kind in
                let byStatus = SessionStatus.allCases.map { status in
                    (
                        status,
                        CoreMetrics.Gauge(
                            label: "buzzbridge_sessions", dimensions: [("engine", kind.rawValue), ("state", status.rawValue)], factory: factory)
                    )
                }
                return (kind, Dictionary(uniqueKeysWithValues: byStatus))
            })
        self.outboxDepth = CoreMetrics.Gauge(label: "buzzbridge_webhook_outbox_depth", factory: factory)
    }

    /// From half a millisecond (a cached read) to ten seconds (a slow webhook receiver).
    static let latencyBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
        .seconds(5), .seconds(10),
    ]

    /// Reads the gauges that describe the store, then renders every metric.
    func scrape(from store: any GatewayStore & WebhookStore) async throws -> [UInt8] {
        var counts: [SessionKind: [SessionStatus: Int]] = [:]
        for session in try await store.sessions() { counts[session.kind, default: [:]][session.status, default: 0] += 1 }
        for (kind, byStatus) in sessions {
            for (status, gauge) in byStatus { gauge.record(counts[kind]?[status] ?? 0) }
        }
        outboxDepth.record(try await store.outboxDepth())
        return registry.emitToBuffer()
    }
}
