import CoreMetrics
import Hummingbird
import Synchronization

/// Requests by route template (`/api/messages/{id}`, never the raw path, so the number of series
/// stays bounded), method and status, each with a latency histogram.
///
/// A series' counter and timer are made the first time its labels occur and looked up in a
/// dictionary afterwards: one short lock per request, no allocation once the series exists.
final class HTTPRequestMetrics: Sendable {
    struct Series: Hashable, Sendable {
        let route: String
        let method: HTTPRequest.Method
        let status: Int
    }

    struct Handles: Sendable {
        let requests: Counter
        let duration: Timer
    }

    private let factory: any MetricsFactory
    private let series = Mutex<[Series: Handles]>([:])

    init(factory: any MetricsFactory) {
        self.factory = factory
    }

    func record(route: String, method: HTTPRequest.Method, status: Int, duration: Duration) {
        let key = Series(route: route, method: method, status: status)
        let handles = series.withLock { series in
            if let handles = series[key] { return handles }
            let dimensions = [("route", route), ("method", method.rawValue), ("status", String(status))]
            let handles = Handles(
                requests: Counter(label: "buzzbridge_http_requests_total", dimensions: dimensions, factory: factory),
                duration: Timer(label: "buzzbridge_http_request_duration_seconds", dimensions: dimensions, factory: factory)
            )
            series[key] = handles
            return handles
        }
        handles.requests.increment()
        handles.duration.recordNanoseconds(duration.nanoseconds)
    }
}

extension Duration {
    /// Whole nanoseconds, for swift-metrics' timers.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
