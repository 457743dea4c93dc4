import BuzzBridgeCore
import BuzzBridgePostgres
import BuzzBridgeStorage
import Foundation
import TestSupport
import Testing

/// The byte-level protocol state on every backend (a real SQLite file, a real PostgreSQL
/// database): every operation, transactions that keep all or nothing, and the wipe at logout.
@Suite("Store contract: protocol state")
struct ProtocolStateStoreTests {
    private let alice = ProtocolAddressKey(user: "60123456789", device: 0)
    private let alicePhone2 = ProtocolAddressKey(user: "60123456789", device: 3)
    private let bob = ProtocolAddressKey(user: "60198765432", device: 0)

    typealias Store = any GatewayStore & ProtocolStateStore

    /// Two sessions in a fresh store of `backend`; `body` also gets a way to close the store and
    /// open the same data again (a restart).
    private func withSessions(
        _ backend: StoreBackend, _ body: (Store, SessionID, SessionID, @escaping () async throws -> Store) async throws -> Void
    ) async throws {
        try await withProtocolStore(backend) { store, reopen in
            let one = activeSession("session_protocol_one", name: "One"), two = activeSession("session_protocol_two", name: "Two")
            try await store.createSession(one)
            try await store.createSession(two)
            try await body(store, one.id, two.id, reopen)
        }
    }

    @Test(arguments: StoreBackend.allCases) func deviceBlobsAreStoredPerSessionAndReplaced(backend: StoreBackend) async throws {
        try await withSessions(backend) { store, one, two, _ in
            #expect(try await store.readProtocolState(session: one) { try $0.credentials() } == nil)
            try await store.withTransaction(session: one) { tx in
                try tx.setCredentials([1, 2, 3])
                try tx.setSignedPreKey([4, 5])
                try tx.setPairedDevice([6])
                try tx.setPushName(Array("Shop".utf8))
            }
            try await store.withTransaction(session: one) { tx in try tx.setCredentials([9]) }
            let blobs: [[UInt8]?] = try await store.readProtocolState(session: one) { state in
                [try state.credentials(), try state.signedPreKey(), try state.pairedDevice()]
            }
            #expect(blobs == [[9], [4, 5], [6]])
            #expect(try await store.readProtocolState(session: one) { try $0.pushName() } == Array("Shop".utf8))
            try await store.withTransaction(session: one) { tx in try tx.setPairedDevice(nil) }
            #expect(try await store.readProtocolState(session: one) { try $0.pairedDevice() } == nil)
            #expect(try await store.readProtocolState(session: one) { try $0.credentials() } == [9])
            #expect(try await store.readProtocolState(session: two) { try $0.credentials() } == nil)
        }
    }

    @Test(arguments: StoreBackend.allCases) func preKeyIDsAreNeverGivenOutTwiceAndUploadsAreMarked(backend: StoreBackend) async throws {
        try await withSessions(backend) { store, one, two, reopen in
            let first = try await store.withTransaction(session: one) { tx in
                let ids = try tx.reservePreKeyIDs(count: 5)
                for id in ids { try tx.putPreKey(id: id, record: [UInt8(id)]) }
                return ids
            }
            #expect(first == [1, 2, 3, 4, 5])
            // Another session counts on its own.
            #expect(try await store.withTransaction(session: two) { try $0.reservePreKeyIDs(count: 2) } == [1, 2])
            #expect(try await store.readProtocolState(session: one) { try $0.unuploadedPreKeys(limit: 10) }.map(\.id) == first)
            #expect(try await store.readProtocolState(session: one) { try $0.unuploadedPreKeys(limit: 2) }.map(\.id) == [1, 2])
            try await store.withTransaction(session: one) { tx in try tx.markPreKeysUploaded([1, 2, 3]) }
            #expect(try await store.readProtocolState(session: one) { try $0.uploadedPreKeyCount() } == 3)
            #expect(try await store.readProtocolState(session: one) { try $0.unuploadedPreKeys(limit: 10) }.map(\.id) == [4, 5])
            #expect(try await store.readProtocolState(session: one) { try $0.preKey(id: 2) } == StoredPreKey(id: 2, record: [2], uploaded: true))

            // A used prekey is removed; its id is still never given out again, not even after a reopen.
            try await store.withTransaction(session: one) { tx in try tx.removePreKey(id: 5) }
            #expect(try await store.readProtocolState(session: one) { try $0.preKey(id: 5) } == nil)
            let reopened = try await reopen()
            #expect(try await reopened.readProtocolState(session: one) { try $0.nextPreKeyID() } == 6)
            #expect(try await reopened.withTransaction(session: one) { try $0.reservePreKeyIDs(count: 3) } == [6, 7, 8])
            // Storing a prekey under an id already stored is refused, never an overwrite.
            await #expect(throws: (any Error).self) {
                try await reopened.withTransaction(session: one) { tx in try tx.putPreKey(id: 1, record: [0]) }
            }
            #expect(try await reopened.readProtocolState(session: one) { try $0.preKey(id: 1) }?.record == [1])
        }
    }

    @Test(arguments: StoreBackend.allCases) func identitiesAndSignalSessionsAreKeyedByAddress(backend: StoreBackend) async throws {
        try await withSessions(backend) { store, one, two, _ in
            let (alice, alicePhone2, bob) = (alice, alicePhone2, bob)
            try await store.withTransaction(session: one) { tx in
                try tx.putIdentity([0xA1], of: alice)
                try tx.putIdentity([0xB1], of: bob)
                try tx.putSignalSession([1], with: alice)
                try tx.putSignalSession([2], with: alicePhone2)
                try tx.putSignalSession([3], with: bob)
            }
            try await store.withTransaction(session: one) { tx in
                try tx.putIdentity([0xA2], of: alice)
                try tx.putSignalSession([4], with: alice)
            }
            try await store.readProtocolState(session: one) { (state) throws -> Void in
                #expect(try state.identity(of: alice) == [0xA2])
                #expect(try state.signalSession(with: alice) == [4])
                #expect(try state.signalSessionDevices(ofUser: alice.user) == [0, 3])
            }
            #expect(try await store.readProtocolState(session: two) { try $0.identity(of: alice) } == nil)

            try await store.withTransaction(session: one) { tx in try tx.removeSignalSession(with: alicePhone2) }
            #expect(try await store.readProtocolState(session: one) { try $0.signalSessionDevices(ofUser: alice.user) } == [0])
            try await store.withTransaction(session: one) { tx in try tx.putSignalSession([5], with: alicePhone2) }
            try await store.withTransaction(session: one) { tx in try tx.removeAllSignalSessions(ofUser: alice.user) }
            try await store.readProtocolState(session: one) { (state) throws -> Void in
                #expect(try state.signalSessionDevices(ofUser: alice.user) == [])
                #expect(try state.signalSession(with: bob) == [3])
            }
            try await store.withTransaction(session: one) { tx in try tx.removeIdentity(of: alice) }
            try await store.readProtocolState(session: one) { (state) throws -> Void in
                #expect(try state.identity(of: alice) == nil)
                #expect(try state.identity(of: bob) == [0xB1])
            }
        }
    }

    @Test(arguments: StoreBackend.allCases) func senderKeysLIDMapAndDeviceLists(backend: StoreBackend) async throws {
        try await withSessions(backend) { store, one, _, _ in
            let (alice, bob) = (alice, bob)
            let group = "120363000000000001@g.us"
            try await store.withTransaction(session: one) { tx in
                try tx.putSenderKey([1], group: group, sender: alice)
                try tx.putSenderKey([2], group: group, sender: bob)
                try tx.putSenderKey([3], group: group, sender: alice)
                try tx.putLIDMapping(lid: "111", phone: "60123456789")
                try tx.putDeviceList(StoredDeviceList(record: [7, 8], fetchedAt: Timestamp(millisecondsSinceEpoch: 1_000)), ofUser: "60123456789")
            }
            try await store.readProtocolState(session: one) { (state) throws -> Void in
                #expect(try state.senderKey(group: group, sender: alice) == [3])
                #expect(try state.senderKey(group: group, sender: bob) == [2])
                #expect(try state.senderKey(group: "other@g.us", sender: alice) == nil)
                #expect(try state.lid(forPhone: "60123456789") == "111")
                #expect(try state.phone(forLID: "111") == "60123456789")
                #expect(
                    try state.deviceList(ofUser: "60123456789")
                        == StoredDeviceList(record: [7, 8], fetchedAt: Timestamp(millisecondsSinceEpoch: 1_000)))
            }
            // A new LID for the same phone replaces the old pair in both directions.
            try await store.withTransaction(session: one) { tx in
                try tx.putLIDMapping(lid: "222", phone: "60123456789")
                try tx.removeSenderKey(group: group, sender: bob)
                try tx.removeDeviceList(ofUser: "60123456789")
            }
            try await store.readProtocolState(session: one) { (state) throws -> Void in
                #expect(try state.lid(forPhone: "60123456789") == "222")
                #expect(try state.phone(forLID: "111") == nil)
                #expect(try state.senderKey(group: group, sender: bob) == nil)
                #expect(try state.deviceList(ofUser: "60123456789") == nil)
            }
        }
    }

    struct Abandoned: Error {}

    @Test(arguments: StoreBackend.allCases) func aTransactionThatThrowsKeepsNothingEvenBesideConcurrentWrites(backend: StoreBackend) async throws {
        try await withSessions(backend) { store, one, two, _ in
            let alice = alice
            try await store.withTransaction(session: one) { tx in try tx.setCredentials([1]) }
            // Group commit puts concurrent writes in one SQLite transaction; the failing body must
            // still leave nothing behind while the others commit.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<40 {
                    group.addTask {
                        if index == 20 {
                            await #expect(throws: Abandoned.self) {
                                try await store.withTransaction(session: one) { tx in
                                    try tx.setCredentials([2])
                                    _ = try tx.reservePreKeyIDs(count: 100)
                                    try tx.putPreKey(id: 1, record: [1])
                                    try tx.putIdentity([0xEE], of: alice)
                                    throw Abandoned()
                                }
                            }
                        } else {
                            try await store.withTransaction(session: two) { tx in
                                try tx.putSignalSession([UInt8(index)], with: ProtocolAddressKey(user: "6011\(index)", device: 0))
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            try await store.readProtocolState(session: one) { (state) throws -> Void in
                #expect(try state.credentials() == [1])
                #expect(try state.nextPreKeyID() == 1)
                #expect(try state.preKey(id: 1) == nil)
                #expect(try state.identity(of: alice) == nil)
            }
            for index in [0, 19, 21, 39] {
                #expect(
                    try await store.readProtocolState(session: two) {
                        try $0.signalSession(with: ProtocolAddressKey(user: "6011\(index)", device: 0))
                    } == [UInt8(index)])
            }
        }
    }

    @Test(arguments: StoreBackend.allCases) func wipeRemovesEverythingOfOneSessionOnly(backend: StoreBackend) async throws {
        try await withSessions(backend) { store, one, two, _ in
            let (alice, bob) = (alice, bob)
            for session in [one, two] {
                try await store.withTransaction(session: session) { tx in
                    try tx.setCredentials([1])
                    try tx.setPairedDevice([2])
                    try tx.setSignedPreKey([3])
                    try tx.setPushName([9])
                    for id in try tx.reservePreKeyIDs(count: 3) { try tx.putPreKey(id: id, record: [4]) }
                    try tx.putIdentity([5], of: alice)
                    try tx.putSignalSession([6], with: alice)
                    try tx.putSenderKey([7], group: "g@g.us", sender: bob)
                    try tx.putLIDMapping(lid: "111", phone: "60123456789")
                    try tx.putDeviceList(StoredDeviceList(record: [8], fetchedAt: .now()), ofUser: "60123456789")
                }
            }
            try await store.wipeProtocolState(session: one)
            let (wiped, kept) = (try await snapshot(store, one), try await snapshot(store, two))
            #expect(wiped.allSatisfy { !$0 }, "left after wipe: \(wiped)")
            #expect(kept.allSatisfy { $0 }, "the other session lost state: \(kept)")
            // A wiped session pairs again from scratch: prekey ids start over with the new identity.
            #expect(try await store.readProtocolState(session: one) { try $0.nextPreKeyID() } == 1)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func theDecryptBufferKeepsItsFirstPlaintextUntilClearedAndAges(backend: StoreBackend) async throws {
        try await withSessions(backend) { store, one, two, reopen in
            let (alice, hash, other) = (alice, [UInt8](repeating: 0xAB, count: 32), [UInt8](repeating: 0xCD, count: 32))
            let old = Timestamp(millisecondsSinceEpoch: 1_000), recent = Timestamp(millisecondsSinceEpoch: 9_000)
            // The plaintext goes in with the ratchet step it came from: both or neither.
            await #expect(throws: Abandoned.self) {
                try await store.withTransaction(session: one) { tx in
                    try tx.putSignalSession([1], with: alice)
                    try tx.putBufferedDecryption(hash: hash, plaintext: [0x68, 0x00, 0x69], serverTimestamp: old, insertedAt: old)
                    throw Abandoned()
                }
            }
            try await store.readProtocolState(session: one) { (state) throws -> Void in
                #expect(try state.bufferedDecryption(hash: hash) == nil)
                #expect(try state.signalSession(with: alice) == nil)
            }
            try await store.withTransaction(session: one) { tx in
                try tx.putSignalSession([1], with: alice)
                try tx.putBufferedDecryption(hash: hash, plaintext: [0x68, 0x00, 0x69], serverTimestamp: old, insertedAt: old)
                try tx.putBufferedDecryption(hash: other, plaintext: [7], serverTimestamp: recent, insertedAt: recent)
            }
            // A second decryption of the same ciphertext keeps the first entry.
            try await store.withTransaction(session: one) { tx in
                try tx.putBufferedDecryption(hash: hash, plaintext: [9], serverTimestamp: recent, insertedAt: recent)
            }
            let store = try await reopen()
            #expect(
                try await store.readProtocolState(session: one) { try $0.bufferedDecryption(hash: hash) }
                    == StoredDecryption(plaintext: [0x68, 0x00, 0x69], insertedAt: old))
            #expect(try await store.readProtocolState(session: one) { try $0.signalSession(with: alice) } == [1])
            #expect(try await store.readProtocolState(session: two) { try $0.bufferedDecryption(hash: hash) } == nil)
            try await store.withTransaction(session: one) { tx in try tx.clearBufferedPlaintext(hash: hash) }
            #expect(
                try await store.readProtocolState(session: one) { try $0.bufferedDecryption(hash: hash) }
                    == StoredDecryption(plaintext: nil, insertedAt: old))
            try await store.withTransaction(session: one) { tx in
                try tx.removeBufferedDecryptions(insertedBefore: Timestamp(millisecondsSinceEpoch: 5_000))
            }
            try await store.readProtocolState(session: one) { (state) throws -> Void in
                #expect(try state.bufferedDecryption(hash: hash) == nil)
                #expect(try state.bufferedDecryption(hash: other) == StoredDecryption(plaintext: [7], insertedAt: recent))
            }
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func concurrentReservationsOfOneSessionNeverShareAnID(backend: StoreBackend) async throws {
        try await withSessions(backend) { store, one, _, _ in
            // Each transaction reads the counter and moves it: run at once, they must still go one after the other.
            let reserved = try await withThrowingTaskGroup(of: [UInt32].self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await store.withTransaction(session: one) { tx in
                            let ids = try tx.reservePreKeyIDs(count: 5)
                            for id in ids { try tx.putPreKey(id: id, record: [UInt8(id % 256)]) }
                            return ids
                        }
                    }
                }
                return try await group.reduce(into: [UInt32]()) { $0 += $1 }
            }
            #expect(reserved.sorted() == Array(1...100))
            #expect(try await store.readProtocolState(session: one) { try $0.nextPreKeyID() } == 101)
            #expect(try await store.readProtocolState(session: one) { try $0.unuploadedPreKeys(limit: 1000) }.count == 100)
        }
    }

    /// Whether each kind of state is present.
    private func snapshot(_ store: Store, _ session: SessionID) async throws -> [Bool] {
        let (alice, bob) = (alice, bob)
        return try await store.readProtocolState(session: session) { state in
            [
                try state.credentials() != nil, try state.pairedDevice() != nil, try state.signedPreKey() != nil, try state.pushName() != nil,
                try state.preKey(id: 1) != nil, try state.identity(of: alice) != nil, try state.signalSession(with: alice) != nil,
                try state.senderKey(group: "g@g.us", sender: bob) != nil, try state.lid(forPhone: "60123456789") != nil,
                try state.deviceList(ofUser: "60123456789") != nil,
            ]
        }
    }
}
