import BuzzBridgeCore
import BuzzBridgeEngines
import BuzzBridgeStorage
import Foundation
import Logging
import Testing

@testable import BuzzBridgeGateway

/// What the gateway stores and announces for each session change an engine reports: a
/// reconnect keeps the session `active` with its number and announces nothing; a loss of the
/// account names its reason; a refused client version keeps the account for the next start.
@Suite("Session changes as recorded")
struct SessionChangeRecordingTests {
    private let phone = PhoneNumber("+60123456789")!

    private func withRecorder(_ body: (EventRecorder, SQLiteStore, SessionID) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-recorder-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try await DataFolder.openStore(at: directory)
        let session = Session(id: .generate(), kind: .live, name: "Live", createdAt: .now())
        try await store.createSession(session)
        _ = try await store.saveWebhookEndpoint(
            session: session.id, url: "https://127.0.0.1:9/hook", secret: "s", events: ["session.status"], at: .now()
        )
        try await body(
            EventRecorder(
                sessionID: session.id, kind: session.kind, store: store,
                blobs: try FileBlobStore(root: URL(fileURLWithPath: directory).appendingPathComponent("media")), mediaBaseURL: "",
                metrics: GatewayMetrics().messages, logger: Logger(label: "test")), store, session.id)
        try await store.close()
    }

    /// The `change` of every `session.status` event queued so far, oldest first.
    private func announced(_ store: SQLiteStore, _ id: SessionID) async throws -> [String] {
        var changes: [String] = []
        for delivery in try await store.webhookDeliveries(DeliveryQuery(sessionID: id, limit: 100)).reversed() {
            let payload = try #require(try await store.webhookPayload(of: delivery.id))
            let object = try #require(try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])
            changes.append(((object["data"] as? [String: Any])?["change"] as? String) ?? "?")
        }
        return changes
    }

    @Test func aReconnectKeepsTheSessionActiveAndAnnouncesNothing() async throws {
        try await withRecorder { recorder, store, id in
            let linkedAt = Timestamp(millisecondsSinceEpoch: 1_700_000_000_000)
            try await recorder.record(
                .session(
                    .connected(
                        LinkedAccount(
                            phoneNumber: phone, lid: "100000000000001", pushName: "Shop", platform: "android", at: linkedAt
                        ))))
            try await recorder.record(.session(.reconnecting(at: .now())))
            var session = try #require(try await store.session(id))
            #expect(session.status == .active)
            #expect(session.connection == .reconnecting)
            #expect(session.phoneNumber == phone)
            #expect(session.lid == "100000000000001")
            #expect(session.connectedAt == linkedAt)

            try await recorder.record(.session(.connected(LinkedAccount(phoneNumber: phone, at: .now()))))
            session = try #require(try await store.session(id))
            #expect(session.connection == .connected)
            #expect(session.connectedAt == linkedAt, "a reconnect is not a new link")
            #expect(session.pushName == "Shop")
            #expect(session.platform == "android")
            #expect(try await announced(store, id) == ["connected"])
        }
    }

    @Test func losingTheAccountNamesTheReasonAndForgetsIt() async throws {
        try await withRecorder { recorder, store, id in
            try await recorder.record(.session(.connected(LinkedAccount(phoneNumber: phone, lid: "1", at: .now()))))
            try await recorder.record(.session(.disconnected(reason: .deviceRemoved, at: .now())))
            let session = try #require(try await store.session(id))
            #expect(session.status == .disconnected)
            #expect(session.disconnectReason == .deviceRemoved)
            #expect(session.phoneNumber == nil && session.lid == nil && session.connection == nil)
            #expect(SessionHub.isLinked(session) == false)
            #expect(try await announced(store, id) == ["connected", "disconnected"])
        }
    }

    @Test func anOutdatedClientKeepsTheAccountForTheNextStart() async throws {
        try await withRecorder { recorder, store, id in
            try await recorder.record(.session(.connected(LinkedAccount(phoneNumber: phone, at: .now()))))
            try await recorder.record(.session(.disconnected(reason: .outdatedClient, at: .now())))
            let session = try #require(try await store.session(id))
            #expect(session.status == .disconnected)
            #expect(session.disconnectReason == .outdatedClient)
            #expect(session.phoneNumber == phone)
            #expect(SessionHub.isLinked(session), "a restart with --wa-version logs in again")
            // The next login is announced: the session was disconnected meanwhile.
            try await recorder.record(.session(.connected(LinkedAccount(phoneNumber: phone, at: .now()))))
            #expect(try await store.session(id)?.disconnectReason == nil)
            #expect(try await announced(store, id) == ["connected", "disconnected", "connected"])
        }
    }

    @Test func reconnectingWhilePairingChangesNothing() async throws {
        try await withRecorder { recorder, store, id in
            try await recorder.record(.session(.pairingStarted(PairingQR(payload: "ref,key", expiresAt: .now()))))
            try await recorder.record(.session(.reconnecting(at: .now())))
            let session = try #require(try await store.session(id))
            #expect(session.status == .pending && session.connection == nil)
            try await recorder.record(.session(.pairingCodeIssued(LinkingCode(code: "ABCD1234", phone: phone, expiresAt: .now()))))
            #expect(try await announced(store, id) == ["qr_generated", "pairing_code_generated"])
        }
    }
}
