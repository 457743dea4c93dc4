import CoreMetrics

/// Session ownership with several nodes: how many leases this node holds, and how it came by
/// them or lost them. Made only when `serve` runs with leases.
struct OwnershipMetrics: Sendable {
    let held: Gauge
    /// Leases taken: at a round (free or expired ones, a takeover among them) or by a request.
    let acquired: Counter
    /// Leases handed over on purpose: excess, a move, graceful shutdown.
    let released: Counter
    /// Leases lost: taken by another node after they expired, or given up before they expired
    /// because they could not be renewed.
    let lost: Counter

    init(factory: any MetricsFactory) {
        held = Gauge(label: "buzzbridge_session_leases_held", factory: factory)
        acquired = Counter(label: "buzzbridge_session_leases_total", dimensions: [("change", "acquired")], factory: factory)
        released = Counter(label: "buzzbridge_session_leases_total", dimensions: [("change", "released")], factory: factory)
        lost = Counter(label: "buzzbridge_session_leases_total", dimensions: [("change", "lost")], factory: factory)
    }
}
