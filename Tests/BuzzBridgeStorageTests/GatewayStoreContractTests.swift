import BuzzBridgeCore
import BuzzBridgePostgres
import BuzzBridgeStorage
import TestSupport
import Testing

/// Sessions, keys, settings, sends with an idempotency key and intact text, on every backend.
@Suite("Store contract: sessions, keys, settings, idempotent sends")
struct GatewayStoreContractTests {
    @Test(arguments: StoreBackend.allCases)
    func sessionsKeysAndSettingsRoundTrip(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            var session = activeSession("session_roundtrip", name: "Round\u{0}trip ✓")
            session.pushName = "Push"
            session.lid = "123456789@lid"
            try await store.createSession(session)
            #expect(try await store.session(session.id) == session, "every field, U+0000 in the name included")
            #expect(try await store.sessions().map(\.id) == [session.id])

            session.status = .disconnected
            session.disconnectReason = .loggedOut
            session.phoneNumber = nil
            try await store.updateSession(session, events: [])
            #expect(try await store.session(session.id) == session)
            let renamed = try await store.updateSessionNames(session.id, name: "Renamed", pushName: nil)
            #expect(renamed?.name == "Renamed" && renamed?.pushName == nil && renamed?.status == .disconnected)
            #expect(try await store.updateSessionNames(SessionID(rawValue: "session_none"), name: "x", pushName: nil) == nil)

            let key = APIKeyRecord(
                id: "key_roundtrip", sessionID: session.id, secretHash: Array(0..<32), label: "ci",
                createdAt: Timestamp(millisecondsSinceEpoch: 1000),
                scopes: [.messagesRead], requestsPerMinute: 30, expiresAt: Timestamp(millisecondsSinceEpoch: 9_000_000_000_000)
            )
            try await store.createAPIKey(key)
            #expect(try await store.apiKey(id: key.id) == key)
            #expect(try await store.apiKeys(session: session.id) == [key])
            try await store.recordAPIKeyUse(id: key.id, at: Timestamp(millisecondsSinceEpoch: 2000))
            #expect(try await store.apiKey(id: key.id)?.lastUsedAt == Timestamp(millisecondsSinceEpoch: 2000))
            #expect(try await store.revokeAPIKey(id: key.id, at: Timestamp(millisecondsSinceEpoch: 3000)))
            #expect(try await store.revokeAPIKey(id: key.id, at: Timestamp(millisecondsSinceEpoch: 4000)) == false, "revoked once")
            #expect(try await store.apiKey(id: key.id)?.revokedAt == Timestamp(millisecondsSinceEpoch: 3000))

            #expect(try await store.setting("admin") == nil)
            try await store.setSetting("admin", to: "one")
            try await store.setSetting("admin", to: "two")
            #expect(try await store.setting("admin") == "two")
            let schema = try await store.schemaStatus()
            #expect(schema.applied == schema.known && schema.known > 0)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func anIdempotentSendKeepsItsKeyAnswerAndText(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let session = activeSession("session_idem", name: "Idem")
            try await store.createSession(session)
            let message = Message(
                id: .generate(), sessionID: session.id, direction: .outgoing, from: PhoneNumber("+60100000000")!, to: PhoneNumber("+60111111111")!,
                body: "visible\u{0}hidden", status: .pending, timestamp: Timestamp(millisecondsSinceEpoch: 5000)
            )
            try await store.insertMessage(message, idempotency: IdempotencyTag(key: "key-1", fingerprint: "digest"))
            let made = try #require(try await store.idempotentSend(key: "key-1", in: session.id))
            #expect(made.message == message, "the text survives whole, U+0000 included")
            #expect(made.fingerprint == "digest" && made.answerStatus == nil && made.answerBody == nil)
            try await store.recordAnswer(status: 200, body: Array("{\"ok\":true}".utf8), forIdempotencyKey: "key-1", in: session.id)
            let answered = try await store.idempotentSend(key: "key-1", in: session.id)
            #expect(answered?.answerStatus == 200 && answered?.answerBody == Array("{\"ok\":true}".utf8))
            #expect(try await store.session(session.id)?.lastActivity == Timestamp(millisecondsSinceEpoch: 5000), "a send is activity")
            try await store.releaseIdempotencyKey("key-1", in: session.id)
            #expect(try await store.idempotentSend(key: "key-1", in: session.id) == nil)
            #expect(try await store.message(message.id, in: session.id) == message, "the message stays")
        }
    }

    @Test func postgresMigrationsRunOnceAndReopenCleanly() async throws {
        let url = try await PostgresTestServer.shared.newDatabaseURL()
        let first = try await PostgresStore.open(url: url)
        try await first.createSession(activeSession("session_kept", name: "Kept"))
        try await first.close()
        // A second node (or a restart) finds the schema current and the data as it was.
        let second = try await PostgresStore.open(url: url)
        let schema = try await second.schemaStatus()
        #expect(schema.applied == schema.known)
        #expect(try await second.session(SessionID(rawValue: "session_kept"))?.name == "Kept")
        try await second.close()
    }
}
