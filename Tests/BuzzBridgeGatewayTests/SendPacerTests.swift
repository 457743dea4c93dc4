import BuzzBridgeCore
import Foundation
import TestSupport
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

    @Test func theSendPauseOptionIsCheckedAtStart() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-pause-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        for bad in ["fast", "1500-300", "-5", "1-2-3"] {
            let refused = try await BuzzBridgeExecutable.run(["serve", "--data", data, "--send-pause", bad])
            #expect(refused.status != 0, "\(bad)")
            #expect(refused.output.contains("--send-pause"), "\(bad): \(refused.output)")
        }
        for good in ["0", "300-1500", "250"] {
            let server = try ServerProcess(arguments: ["serve", "--data", data, "--port", "0", "--send-pause", good])
            _ = try await server.baseURL()
            await server.terminate()
        }
    }
}
