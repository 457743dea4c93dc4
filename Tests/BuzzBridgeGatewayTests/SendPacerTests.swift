import BuzzBridgeCore
import Testing

@testable import BuzzBridgeGateway

@Suite("Send pacing per WhatsApp session")
struct SendPacerTests {
    @Test func aFullQueueRefusesTheNextSendAndOtherSessionsAreUnaffected() async throws {
        // One slot a minute: the second send waits for a long time, the third finds the queue full.
        let pacer = SendPacer(configuration: SendPacingConfiguration(messagesPerMinute: 1, jitter: .zero ... .zero, queueLimit: 1))
        let session = SessionID(rawValue: "session_paced"), other = SessionID(rawValue: "session_other")
        try await pacer.awaitTurn(for: session)
        let waiting = Task { try await pacer.awaitTurn(for: session) }
        while await pacer.queued(for: session) < 1 { await Task.yield() }

        let refusal = await #expect(throws: APIError.self) { try await pacer.awaitTurn(for: session) }
        #expect(refusal?.code == .rateLimitExceeded)
        try await pacer.awaitTurn(for: other)

        // A cancelled wait (the server shutting down) leaves the queue.
        waiting.cancel()
        await #expect(throws: APIError.self) { try await waiting.value }
        #expect(await pacer.queued(for: session) == 0)
    }
}
