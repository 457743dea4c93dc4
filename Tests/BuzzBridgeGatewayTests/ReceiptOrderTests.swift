import BuzzBridgeCore
import BuzzBridgeEngines
import BuzzBridgeStorage
import Foundation
import Logging
import Testing

@testable import BuzzBridgeGateway

/// A receipt that overtakes the gateway's own `sent` record (the engine reported before the send's
/// write committed) still yields sent → delivered, and the late `sent` keeps WhatsApp's id.
@Suite("Receipts that overtake the send")
struct ReceiptOrderTests {
    @Test func aDeliveredReceiptForAPendingMessageRecordsSentFirst() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-receipts-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try await DataFolder.openStore(at: directory)
        let session = Session(
            id: SessionID(rawValue: "session_receipts"), kind: .sandbox, name: "Receipts", status: .active,
            phoneNumber: PhoneNumber("+60100000000"), createdAt: .now()
        )
        try await store.createSession(session)
        _ = try await store.saveWebhookEndpoint(session: session.id, url: "https://example.test/hook", secret: "s", events: nil, at: .now())
        let message = Message(
            id: .generate(), sessionID: session.id, direction: .outgoing, from: session.phoneNumber!, to: PhoneNumber("+60123456789")!,
            body: "hello", status: .pending, timestamp: .now()
        )
        _ = try await store.insertMessage(message, events: [])

        let recorder = EventRecorder(
            sessionID: session.id, kind: session.kind, store: store,
            blobs: try FileBlobStore(root: URL(fileURLWithPath: directory).appendingPathComponent("media")), mediaBaseURL: "",
            metrics: GatewayMetrics().messages, logger: Logger(label: "test"))
        try await recorder.record(.messageStatus(MessageStatusChange(messageID: message.id, status: .delivered, at: .now())))
        #expect(try await store.message(message.id, in: session.id)?.status == .delivered)

        // The send's own record arrives late: refused (no going back), but the external id is kept.
        let late = try await store.advanceMessage(message.id, in: session.id, to: .sent, at: .now(), externalID: "WAMID1") { _ in [] }
        #expect(late == nil)
        let stored = try #require(try await store.message(message.id, in: session.id))
        #expect(stored.status == .delivered)
        #expect(stored.externalID == "WAMID1")

        let deliveries = try await store.webhookDeliveries(DeliveryQuery(sessionID: session.id, limit: 10))
        var statuses: [String] = []
        for delivery in deliveries.reversed() {
            let payload = try #require(try await store.webhookPayload(of: delivery.id))
            let data = try #require((try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])?["data"] as? [String: Any])
            statuses.append(data["status"] as? String ?? "?")
        }
        #expect(statuses == ["sent", "delivered"])
        try await store.close()
    }
}
