/// What a limiter decided about one request, with what the client is told about its budget.
public struct RateLimitDecision: Sendable, Equatable {
    public var allowed: Bool
    public var limit: Int
    public var remaining: Int
    /// Seconds until the oldest counted request leaves the window and a slot frees up.
    public var resetAfter: Double

    public init(allowed: Bool, limit: Int, remaining: Int, resetAfter: Double) {
        self.allowed = allowed
        self.limit = limit
        self.remaining = remaining
        self.resetAfter = resetAfter
    }

    /// The decision for a key whose counted instants in the window are `hits` (oldest first,
    /// the new request's included when it was allowed), at `time`.
    public init(hits: some RandomAccessCollection<Double>, limit: Int, allowed: Bool, window: Double, at time: Double) {
        // The slot that frees first is the oldest one still counted.
        let resetAfter =
            hits.count >= limit
            ? max(0, (hits[hits.index(hits.startIndex, offsetBy: hits.count - limit)] + window) - time)
            : (hits.first.map { $0 + window - time } ?? 0)
        self.init(allowed: allowed, limit: limit, remaining: max(0, limit - hits.count), resetAfter: resetAfter)
    }

    /// Whole seconds, rounded up so that a client waiting this long is never refused again.
    public var retryAfterSeconds: Int { max(1, Int(resetAfter.rounded(.up))) }
}
