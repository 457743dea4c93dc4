import BuzzBridgeCore
import BuzzBridgeStorage
import Foundation
import Testing

/// The byte-level protocol state on a real SQLite file: every operation, transactions that keep
/// all or nothing, and the wipe at logout.
@Suite("SQLite store: protocol state")
struct ProtocolStateStoreTests {
    private let alice = ProtocolAddressKey(user: "60123456789", device: 0)
    private let alicePhone2 = ProtocolAddressKey(user: "60123456789", device: 3)
    private let bob = ProtocolAddressKey(user: "60198765432", device: 0)

    private func withSessions(_ body: (SQLiteStore, SessionID, SessionID, String) async throws -> Void) async throws {
        try await withTemporaryStore { store, path in
            let one = activeSession("session_protocol_one", name: "One"), two = activeSession("session_protocol_two", name: "Two")
            try await store.createSession(one)
            try await store.createSession(two)
            try await body(store, one.id, two.id, path)
        }
    }

    @Test func deviceBlobsAreStoredPerSessionAndReplaced() async throws {
        try await withSessions { store, one, two, _ in
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

    @Test func preKeyIDsAreNeverGivenOutTwiceAndUploadsAreMarked() async throws {
        try await withSessions { store, one, two, path in
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
            try await store.close()
            let reopened = try await SQLiteStore.open(path: path)
            #expect(try await reopened.readProtocolState(session: one) { try $0.nextPreKeyID() } == 6)
            #expect(try await reopened.withTransaction(session: one) { try $0.reservePreKeyIDs(count: 3) } == [6, 7, 8])
            // Storing a prekey under an id already stored is refused, never an overwrite.
            await #expect(throws: (any Error).self) {
                try await reopened.withTransaction(session: one) { tx in try tx.putPreKey(id: 1, record: [0]) }
            }
            #expect(try await reopened.readProtocolState(session: one) { try $0.preKey(id: 1) }?.record == [1])
            try await reopened.close()
        }
    }

    @Test func identitiesAndSignalSessionsAreKeyedByAddress() async throws {
        try await withSessions { store, one, two, _ in
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

    @Test func senderKeysLIDMapAndDeviceLists() async throws {
        try await withSessions { store, one, _, _ in
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

    @Test func aTransactionThatThrowsKeepsNothingEvenBesideConcurrentWrites() async throws {
        try await withSessions { store, one, two, _ in
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

    @Test func wipeRemovesEverythingOfOneSessionOnly() async throws {
        try await withSessions { store, one, two, _ in
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

    /// Whether each kind of state is present.
    private func snapshot(_ store: SQLiteStore, _ session: SessionID) async throws -> [Bool] {
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
