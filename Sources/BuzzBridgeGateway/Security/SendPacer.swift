import BuzzBridgeCore

/// Spaces each session's outgoing messages: one slot every `60 / messagesPerMinute` seconds,
/// plus a small random pause, in the order the sends arrived. A send waits for its slot; when a
/// session already has `queueLimit` sends waiting, the next one is refused at once.
actor SendPacer {
    private let configuration: SendPacingConfiguration
    private let clock = ContinuousClock()
    private var sessions: [SessionID: Lane] = [:]

    private struct Lane {
        var lastSlot: ContinuousClock.Instant?
        var waiting = 0
    }

    init(configuration: SendPacingConfiguration) {
        self.configuration = configuration
    }

    /// Waits for `session`'s slot when its sends are paced: live sessions always, sandbox sessions
    /// only when the configuration says so (tests of the pacing itself).
    func awaitTurn(for session: Session) async throws(APIError) {
        guard session.kind == .live || configuration.pacesSandbox else { return }
        try await awaitTurn(for: session.id)
    }

    /// Sends of `session` waiting for their slot.
    func queued(for session: SessionID) -> Int { sessions[session]?.waiting ?? 0 }

    private var spacing: Duration { .seconds(60) / max(1, configuration.messagesPerMinute) }

    /// Returns when `session` may send its next message.
    func awaitTurn(for session: SessionID) async throws(APIError) {
        var lane = sessions[session, default: Lane()]
        guard lane.waiting < configuration.queueLimit else {
            throw APIError(
                .rateLimitExceeded, "Too many messages queued for this WhatsApp session; sending is paced to protect the number",
                details: ["queue": "\(configuration.queueLimit) messages already waiting"]
            )
        }
        let now = clock.now
        let earliest = lane.lastSlot.map { $0 + spacing } ?? now
        let slot = max(now, earliest) + randomJitter()
        // The slot is claimed before suspending, so concurrent sends line up behind it.
        lane.lastSlot = slot
        lane.waiting += 1
        sessions[session] = lane
        defer { sessions[session]?.waiting -= 1 }
        do {
            try await clock.sleep(until: slot)
        } catch {
            throw APIError(.serviceUnavailable, "Service temporarily unavailable: shutting down")
        }
    }

    private func randomJitter() -> Duration {
        let low = configuration.jitter.lowerBound, high = configuration.jitter.upperBound
        guard high > low else { return low }
        let span = (high - low).components
        let spanNanoseconds = span.seconds * 1_000_000_000 + span.attoseconds / 1_000_000_000
        return low + .nanoseconds(Int64.random(in: 0...spanNanoseconds))
    }
}
