import CoreMetrics

/// How long the store calls on the API's and the dispatcher's paths take, one histogram per
/// operation. The timers are made at start and indexed by the operation, so a measurement costs
/// two clock reads and one histogram update.
struct StoreLatency: Sendable {
    enum Operation: String, CaseIterable, Sendable {
        case apiKey = "api_key"
        case session
        case messages
        case message
        case conversation
        case insertMessage = "insert_message"
        case advanceMessage = "advance_message"
        case claimDeliveries = "claim_deliveries"
    }

    private let timers: [Operation: Timer]

    init(factory: any MetricsFactory) {
        timers = Dictionary(
            uniqueKeysWithValues: Operation.allCases.map {
                ($0, Timer(label: "buzzbridge_store_operation_duration_seconds", dimensions: [("operation", $0.rawValue)], factory: factory))
            })
    }

    func measure<T>(_ operation: Operation, _ body: () async throws -> T) async rethrows -> T {
        let started = ContinuousClock.now
        defer { timers[operation]?.recordNanoseconds((ContinuousClock.now - started).nanoseconds) }
        return try await body()
    }
}
