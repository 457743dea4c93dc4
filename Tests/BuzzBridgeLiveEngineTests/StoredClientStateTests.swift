import BuzzBridgeCore
import BuzzBridgeStorage
import Foundation
import SignalProtocol
import Testing
import WhatsAppProtocol

@testable import BuzzBridgeLiveEngine

/// The client's typed store over the gateway's SQLite file: records survive a reopen byte for
/// byte, what belongs together is written together, and a real Signal session runs on it.
@Suite("Live engine: client state in the gateway's store")
struct StoredClientStateTests {
    private func withState(_ body: (StoredClientState, () async throws -> StoredClientState) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-live-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/buzzbridge.sqlite"
        let session = Session(id: SessionID(rawValue: "session_live_state"), kind: .live, name: "Live", createdAt: .now())
        let store = try await SQLiteStore.open(path: path)
        try await store.createSession(session)
        var opened = [store]
        let reopen = {
            try await opened.last!.close()
            let again = try await SQLiteStore.open(path: path)
            opened.append(again)
            return StoredClientState(store: again, session: session.id)
        }
        try await body(StoredClientState(store: store, session: session.id), reopen)
        try await opened.last!.close()
    }

    private func pairing(_ credentials: DeviceCredentials) -> PairingRecord {
        PairingRecord(
            device: PairedDevice(
                jid: JID.user("60123456789", device: 7), lid: JID.lid("100000000000001", device: 7), businessName: "", platform: "android",
                account: Data([1, 2, 3]), primaryIdentityKey: Data(repeating: 9, count: 32)
            ),
            primaryIdentity: ECKeyPair.generate().publicKey, primaryAddress: ProtocolAddress(name: "100000000000001", deviceId: 0),
            lidMapping: LIDMapping(lid: JID.lid("100000000000001"), phone: JID.user("60123456789"))
        )
    }

    @Test func credentialsPairingAndPushNameSurviveAReopen() async throws {
        try await withState { state, reopen in
            let credentials = try await state.loadOrCreateCredentials()
            let record = pairing(credentials)
            try await state.savePairing(record)
            try await state.savePushName("Shop")
            let again = try await reopen()
            #expect(try await again.loadCredentials() == credentials)
            #expect(try await again.loadOrCreateCredentials() == credentials, "keys are made once")
            #expect(try await again.loadPairedDevice() == record.device)
            #expect(try await again.identity(for: record.primaryAddress) == record.primaryIdentity)
            #expect(try await again.phone(forLID: JID.lid("100000000000001")) == JID.user("60123456789"))
            #expect(try await again.lid(forPhone: JID.user("60123456789", device: 3)) == JID.lid("100000000000001"))
            #expect(try await again.loadPushName() == "Shop")
            #expect(try await again.localRegistrationId() == credentials.registrationID)
            #expect(try await again.loadSignedPreKey(id: credentials.signedPreKey.id)?.serialized == credentials.signedPreKeyRecord().serialized)

            try await again.removeAll()
            #expect(try await again.loadCredentials() == nil)
            #expect(try await again.loadPairedDevice() == nil)
            #expect(try await again.identity(for: record.primaryAddress) == nil)
            #expect(try await again.loadPushName() == nil)
        }
    }

    @Test func generatedPreKeysTakeTheNextIDsOnlyAndUploadsAreMarked() async throws {
        try await withState { state, reopen in
            _ = try await state.loadOrCreateCredentials()
            let first = KeyHelper.generatePreKeys(start: try await state.nextPreKeyID(), count: 5)
            try await state.storeGeneratedPreKeys(first)
            #expect(try await state.nextPreKeyID() == 6)
            // Keys generated from a stale id (another generation got there first) are refused whole.
            await #expect(throws: StoredClientState.Failure.self) {
                try await state.storeGeneratedPreKeys(KeyHelper.generatePreKeys(start: 3, count: 4))
            }
            #expect(try await state.nextPreKeyID() == 6)
            #expect(try await state.loadPreKey(id: 3)?.serialized == first[2].serialized)

            try await state.markPreKeysUploaded(through: 3)
            #expect(try await state.uploadedPreKeyCount() == 3)
            #expect(try await state.preKeysNotUploaded(limit: 10).map(\.id) == [4, 5])
            let again = try await reopen()
            #expect(try await again.uploadedPreKeyCount() == 3)
            #expect(try await again.nextPreKeyID() == 6)
            // Storing the same key again is a no-op; other keys under a taken id are refused.
            try await again.storePreKey(first[0])
            await #expect(throws: StoredClientState.Failure.self) { try await again.storePreKey(PreKeyRecord(id: 1, keyPair: .generate())) }
        }
    }

    @Test func aSignalSessionRunsOnTheStoreAcrossAReopen() async throws {
        try await withState { companion, reopen in
            let credentials = try await companion.loadOrCreateCredentials()
            let preKeys = KeyHelper.generatePreKeys(start: try await companion.nextPreKeyID(), count: 2)
            try await companion.storeGeneratedPreKeys(preKeys)
            let contact = InMemorySignalProtocolStore()
            let companionAddress = ProtocolAddress(name: "60123456789", deviceId: 7)
            let contactAddress = ProtocolAddress(name: "60198765432", deviceId: 0)
            let signed = credentials.signedPreKeyRecord()
            try await SessionBuilder(store: contact, address: companionAddress).process(
                PreKeyBundle(
                    registrationId: credentials.registrationID, deviceId: 7, preKeyId: preKeys[1].id, preKeyPublic: preKeys[1].keyPair.publicKey,
                    signedPreKeyId: signed.id, signedPreKeyPublic: signed.keyPair.publicKey, signedPreKeySignature: signed.signature,
                    identityKey: credentials.identityKeyPair.publicKey
                ))
            let hello = try await SessionCipher(store: contact, address: companionAddress).encrypt(Data("hello".utf8))
            guard case .preKey(let preKeyMessage) = hello else { Issue.record("expected a prekey message"); return }
            #expect(try await SessionCipher(store: companion, address: contactAddress).decrypt(preKeyMessage) == Data("hello".utf8))
            #expect(try await companion.loadPreKey(id: preKeys[1].id) == nil, "a used one-time prekey is removed")
            #expect(try await companion.identity(for: contactAddress) == (try await contact.identityKeyPair()).publicKey)

            // The ratchet continues from what the store kept.
            let again = try await reopen()
            let reply = try await SessionCipher(store: again, address: contactAddress).encrypt(Data("hi back".utf8))
            guard case .whisper(let whisper) = reply else { Issue.record("expected a whisper message"); return }
            #expect(try await SessionCipher(store: contact, address: companionAddress).decrypt(whisper) == Data("hi back".utf8))
            try await again.deleteAllSessions(ofUser: contactAddress.name)
            #expect(try await again.loadSession(for: contactAddress) == nil)
            try await again.deleteIdentity(for: contactAddress)
            #expect(try await again.identity(for: contactAddress) == nil)
        }
    }

    @Test func aDecryptionIsStoredWithItsPlaintextAndTheBufferForgetsOnlyThePlaintext() async throws {
        try await withState { state, reopen in
            _ = try await state.loadOrCreateCredentials()
            let preKeys = KeyHelper.generatePreKeys(start: try await state.nextPreKeyID(), count: 2)
            try await state.storeGeneratedPreKeys(preKeys)
            let contact = ProtocolAddress(name: "100000000000002_1", deviceId: 0)
            let identity = ECKeyPair.generate().publicKey
            var changes = SignalStateChanges()
            changes.identities[contact] = identity
            changes.removedPreKeys = [preKeys[0].id]
            let key = DecryptionBuffer.key(ciphertext: Data([7, 7, 7]), context: ["prekey", "100000000000002@lid"])
            #expect(try await state.bufferedDecryption(key: key) == nil)
            try await state.commitDecryption(
                DecryptionCommit(bufferKey: key, plaintext: Data("padded".utf8), serverTimestamp: Date(), changes: changes))

            // After a crash (a reopen): the state change and the plaintext, together.
            let again = try await reopen()
            #expect(try await again.bufferedDecryption(key: key) == .plaintext(Data("padded".utf8)))
            #expect(try await again.identity(for: contact) == identity)
            #expect(try await again.loadPreKey(id: preKeys[0].id) == nil)
            #expect(try await again.loadPreKey(id: preKeys[1].id) != nil)
            try await again.clearBufferedPlaintext(key: key)
            #expect(try await again.bufferedDecryption(key: key) == .processed)
            try await again.removeBufferedDecryptions(before: Date().addingTimeInterval(-60))
            #expect(try await again.bufferedDecryption(key: key) == .processed, "younger entries stay")
            try await again.removeBufferedDecryptions(before: Date().addingTimeInterval(60))
            #expect(try await again.bufferedDecryption(key: key) == nil)

            // A prekey handed out in a retry receipt takes the next id and counts as given out.
            let uploadedBefore = try await again.uploadedPreKeyCount()
            let given = KeyHelper.generatePreKeys(start: try await again.nextPreKeyID(), count: 1)[0]
            try await again.storeGivenOutPreKey(given)
            #expect(try await again.uploadedPreKeyCount() == uploadedBefore + 1)
            #expect(try await again.nextPreKeyID() == given.id + 1)
            #expect(try await again.preKeysNotUploaded(limit: 10).map(\.id) == [preKeys[1].id])
        }
    }
}
