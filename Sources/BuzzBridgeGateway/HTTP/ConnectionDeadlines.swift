import NIOCore

/// The deadline a connection must meet next, as a pure state machine over what the connection
/// did: the handler feeds it events and carries out the deadline it returns.
///
/// - A new connection, and a kept-alive one once the first byte of its next request arrives,
///   must complete the request's head within `headerReadTimeout`.
/// - A request's body must be complete within `bodyReadTimeout` of its head.
/// - While the server works on a request (its answer not yet written) nothing is timed.
/// - A connection with nothing under way is closed after `idleTimeout`.
struct ConnectionDeadlines: Sendable, Equatable {
    enum Phase: Sendable, Equatable {
        case awaitingHead, readingBody, responding, idle
    }

    let limits: ConnectionLimits
    private(set) var phase = Phase.awaitingHead
    /// Requests whose head arrived and whose answer is not yet complete.
    private(set) var unanswered = 0

    init(limits: ConnectionLimits) {
        self.limits = limits
    }

    /// What the handler does next: close the connection when this time passes, or wait untimed.
    enum Deadline: Sendable, Equatable {
        case after(Duration)
        case none
        case unchanged
    }

    mutating func connected() -> Deadline {
        phase = .awaitingHead
        return .after(limits.headerReadTimeout)
    }

    mutating func bytesArrived() -> Deadline {
        guard phase == .idle else { return .unchanged }
        phase = .awaitingHead
        return .after(limits.headerReadTimeout)
    }

    mutating func headRead() -> Deadline {
        unanswered += 1
        phase = .readingBody
        return .after(limits.bodyReadTimeout)
    }

    mutating func requestEnded() -> Deadline {
        phase = .responding
        return .none
    }

    mutating func responseEnded() -> Deadline {
        unanswered = max(0, unanswered - 1)
        guard unanswered == 0, phase == .responding else { return .unchanged }
        phase = .idle
        return .after(limits.idleTimeout)
    }
}
