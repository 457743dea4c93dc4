import BuzzBridgeCore
import CoreMetrics

/// Messages sent and received, by the kind of engine of their session (sandbox or live).
struct MessageMetrics: Sendable {
    private let sentByKind: [SessionKind: Counter]
    private let receivedByKind: [SessionKind: Counter]

    init(factory: any MetricsFactory) {
        func counters(_ direction: String) -> [SessionKind: Counter] {
            Dictionary(
                uniqueKeysWithValues: SessionKind.allCases.map { kind in
                    let dimensions = [("direction", direction), ("engine", kind.rawValue)]
                    return (kind, Counter(label: "buzzbridge_messages_total", dimensions: dimensions, factory: factory))
                })
        }
        self.sentByKind = counters("out")
        self.receivedByKind = counters("in")
    }

    /// A send the engine accepted.
    func sent(by kind: SessionKind) { sentByKind[kind]?.increment() }
    /// An incoming message stored (a duplicate WhatsApp sent again is not counted).
    func received(by kind: SessionKind) { receivedByKind[kind]?.increment() }
}
