import BuzzBridgeCore
import BuzzBridgeStorage
import Foundation
import SignalProtocol
import WhatsAppProtocol

/// The WhatsApp client's typed state store (`ClientStateStore`, with the Signal stores) over the
/// gateway's byte-level ``ProtocolStateStore``, for one session. Each method is one transaction,
/// so what a method writes together (a pairing, a batch of prekeys and the next id) is stored
/// together or not at all.
struct StoredClientState: ClientStateStore {
    let store: any ProtocolStateStore
    let session: SessionID
    /// Decoded records read before (this session's engine is the only writer of its state).
    var cache = ProtocolStateCache()

    enum Failure: Error, Equatable, CustomStringConvertible {
        case noCredentials
        /// The client generated prekeys under ids the store had not reserved for them.
        case preKeyIDsOutOfOrder(expected: [UInt32], got: [UInt32])
        case preKeyAlreadyStored(UInt32)

        var description: String {
            switch self {
            case .noCredentials: "the device has no credentials yet"
            case .preKeyIDsOutOfOrder(let expected, let got): "prekeys generated as \(got.prefix(3))… but ids \(expected.prefix(3))… were next"
            case .preKeyAlreadyStored(let id): "prekey \(id) is already stored with other keys"
            }
        }
    }

    private func read<T: Sendable>(_ body: @escaping @Sendable (any ProtocolStateReader) throws -> T) async throws -> T {
        try await store.readProtocolState(session: session, body)
    }

    private func write<T: Sendable>(_ body: @escaping @Sendable (any ProtocolStateTransaction) throws -> T) async throws -> T {
        try await store.withTransaction(session: session, body)
    }

    // MARK: DeviceStore

    func loadCredentials() async throws -> DeviceCredentials? {
        let (cached, version) = cache.lookUp { $0.credentials }
        if let cached { return cached }
        let credentials = try RecordCoding.decode(DeviceCredentials.self, try await read { try $0.credentials() })
        cache.fill(readAt: version) { $0.credentials = .some(credentials) }
        return credentials
    }

    func saveCredentials(_ credentials: DeviceCredentials) async throws {
        let bytes = try RecordCoding.encode(credentials)
        cache.update { $0.credentials = nil }
        try await write { try $0.setCredentials(bytes) }
        cache.update { $0.credentials = .some(credentials) }
    }

    func loadPairedDevice() async throws -> PairedDevice? {
        try RecordCoding.decode(PairedDevice.self, try await read { try $0.pairedDevice() })
    }

    func savePairedDevice(_ device: PairedDevice) async throws {
        let bytes = try RecordCoding.encode(device)
        try await write { try $0.setPairedDevice(bytes) }
    }

    func removeAll() async throws {
        cache.clear()
        try await store.wipeProtocolState(session: session)
        cache.clear()
    }

    // MARK: ClientStateStore

    func savePairing(_ pairing: PairingRecord) async throws {
        let device = try RecordCoding.encode(pairing.device)
        let identity = Array(pairing.primaryIdentity.serialized)
        let address = RecordCoding.key(pairing.primaryAddress)
        let mapping = pairing.lidMapping.map { (lid: $0.lid.user, phone: $0.phone.user) }
        cache.update { $0.identities[pairing.primaryAddress] = nil }
        try await write { tx in
            try tx.setPairedDevice(device)
            try tx.putIdentity(identity, of: address)
            if let mapping { try tx.putLIDMapping(lid: mapping.lid, phone: mapping.phone) }
        }
    }

    func loadPushName() async throws -> String? {
        RecordCoding.text(try await read { try $0.pushName() })
    }

    func savePushName(_ name: String) async throws {
        try await write { try $0.setPushName(Array(name.utf8)) }
    }

    func nextPreKeyID() async throws -> UInt32 {
        try await read { try $0.nextPreKeyID() }
    }

    /// Reserves the ids and stores the keys in one transaction; ids the store did not have next
    /// are refused, so that no id is ever given out twice.
    func storeGeneratedPreKeys(_ records: [PreKeyRecord]) async throws {
        let keys = records.map { (id: $0.id, record: Array($0.serialized)) }
        try await write { tx in
            let reserved = try tx.reservePreKeyIDs(count: keys.count)
            guard reserved == keys.map(\.id) else { throw Failure.preKeyIDsOutOfOrder(expected: reserved, got: keys.map(\.id)) }
            for key in keys { try tx.putPreKey(id: key.id, record: key.record) }
        }
    }

    func preKeysNotUploaded(limit: Int) async throws -> [PreKeyRecord] {
        try await read { try $0.unuploadedPreKeys(limit: limit) }.compactMap { try RecordCoding.preKey($0) }
    }

    func markPreKeysUploaded(through id: UInt32) async throws {
        try await write { tx in
            let ids = try tx.unuploadedPreKeys(limit: Int.max).map(\.id).filter { $0 <= id }
            try tx.markPreKeysUploaded(ids)
        }
    }

    func uploadedPreKeyCount() async throws -> Int {
        try await read { try $0.uploadedPreKeyCount() }
    }

    func storeLIDMapping(lid: JID, phone: JID) async throws {
        let (lidUser, phoneUser) = (lid.user, phone.user)
        try await write { try $0.putLIDMapping(lid: lidUser, phone: phoneUser) }
    }

    func lid(forPhone phone: JID) async throws -> JID? {
        let user = phone.user
        return try await read { try $0.lid(forPhone: user) }.map { JID.lid($0) }
    }

    func phone(forLID lid: JID) async throws -> JID? {
        let user = lid.user
        return try await read { try $0.phone(forLID: user) }.map { JID.user($0) }
    }

    /// Keyed by `user@server`, so that a phone-number user and a LID user never share a list.
    func deviceList(of user: JID) async throws -> DeviceList? {
        let user = user.withoutDevice
        let (cached, version) = cache.lookUp { $0.deviceLists[user] }
        if let cached { return cached }
        let key = user.description
        let list = try await read({ try $0.deviceList(ofUser: key) }).flatMap { try RecordCoding.decode(DeviceList.self, $0.record) }
        cache.fill(readAt: version) { $0.deviceLists.updateValue(list, forKey: user) }
        return list
    }

    func storeDeviceList(_ list: DeviceList) async throws {
        let key = list.user.description
        let stored = StoredDeviceList(
            record: try RecordCoding.encode(list), fetchedAt: Timestamp(millisecondsSinceEpoch: Int64(list.fetchedAt.timeIntervalSince1970 * 1000)))
        cache.update { $0.deviceLists[list.user] = nil }
        try await write { try $0.putDeviceList(stored, ofUser: key) }
        cache.update { $0.deviceLists.updateValue(list, forKey: list.user) }
    }

    func removeDeviceList(of user: JID) async throws {
        let user = user.withoutDevice
        let key = user.description
        cache.update { $0.deviceLists[user] = nil }
        try await write { try $0.removeDeviceList(ofUser: key) }
        cache.update { $0.deviceLists.updateValue(nil, forKey: user) }
    }

    func deleteSession(for address: ProtocolAddress) async throws {
        let key = RecordCoding.key(address)
        cache.update { $0.sessions[address] = nil }
        try await write { try $0.removeSignalSession(with: key) }
    }

    func deleteAllSessions(ofUser name: String) async throws {
        cache.update { state in state.sessions = state.sessions.filter { $0.key.name != name } }
        try await write { try $0.removeAllSignalSessions(ofUser: name) }
    }

    func deleteIdentity(for address: ProtocolAddress) async throws {
        let key = RecordCoding.key(address)
        cache.update { $0.identities[address] = nil }
        try await write { try $0.removeIdentity(of: key) }
    }

    // MARK: Decrypt buffer

    func bufferedDecryption(key: Data) async throws -> BufferedDecryption? {
        let hash = Array(key)
        guard let entry = try await read({ try $0.bufferedDecryption(hash: hash) }) else { return nil }
        return entry.plaintext.map { .plaintext(Data($0)) } ?? .processed
    }

    /// The ratchet step, the identity seen, the consumed prekey, the sender keys and the plaintext
    /// in one transaction: a crash keeps all of them or none.
    func commitDecryption(_ commit: DecryptionCommit) async throws {
        let changes = commit.changes
        let sessions = changes.sessions.map { (RecordCoding.key($0.key), Array($0.value.serialized)) }
        let identities = changes.identities.map { (RecordCoding.key($0.key), Array($0.value.serialized)) }
        let preKeys = Array(changes.removedPreKeys)
        let senderKeys = changes.senderKeys.map { ($0.key.groupId, RecordCoding.key($0.key.sender), Array($0.value.serialized)) }
        let hash = Array(commit.bufferKey), plaintext = Array(commit.plaintext)
        let serverTimestamp = Timestamp(millisecondsSinceEpoch: Int64(commit.serverTimestamp.timeIntervalSince1970 * 1000))
        cache.update { state in
            for address in changes.sessions.keys { state.sessions[address] = nil }
            for address in changes.identities.keys { state.identities[address] = nil }
        }
        try await write { tx in
            for (address, record) in sessions { try tx.putSignalSession(record, with: address) }
            for (address, identity) in identities { try tx.putIdentity(identity, of: address) }
            for id in preKeys { try tx.removePreKey(id: id) }
            for (group, sender, record) in senderKeys { try tx.putSenderKey(record, group: group, sender: sender) }
            try tx.putBufferedDecryption(hash: hash, plaintext: plaintext, serverTimestamp: serverTimestamp, insertedAt: .now())
        }
        cache.update { state in
            for (address, record) in changes.sessions { state.sessions.updateValue(record, forKey: address) }
            for (address, identity) in changes.identities { state.identities.updateValue(identity, forKey: address) }
        }
    }

    func clearBufferedPlaintext(key: Data) async throws {
        let hash = Array(key)
        try await write { try $0.clearBufferedPlaintext(hash: hash) }
    }

    func removeBufferedDecryptions(before date: Date) async throws {
        let time = Timestamp(millisecondsSinceEpoch: Int64(date.timeIntervalSince1970 * 1000))
        try await write { try $0.removeBufferedDecryptions(insertedBefore: time) }
    }

    /// Reserves the id, stores the key and marks it given out in one transaction.
    func storeGivenOutPreKey(_ record: PreKeyRecord) async throws {
        let (id, bytes) = (record.id, Array(record.serialized))
        try await write { tx in
            let reserved = try tx.reservePreKeyIDs(count: 1)
            guard reserved == [id] else { throw Failure.preKeyIDsOutOfOrder(expected: reserved, got: [id]) }
            try tx.putPreKey(id: id, record: bytes)
            try tx.markPreKeysUploaded([id])
        }
    }

    // MARK: Signal stores

    func identityKeyPair() async throws -> IdentityKeyPair {
        guard let credentials = try await loadCredentials() else { throw Failure.noCredentials }
        return credentials.identityKeyPair
    }

    func localRegistrationId() async throws -> UInt32 {
        guard let credentials = try await loadCredentials() else { throw Failure.noCredentials }
        return credentials.registrationID
    }

    /// Records `identity` for `address`; true when it replaced a different key.
    @discardableResult
    func saveIdentity(_ identity: ECPublicKey, for address: ProtocolAddress) async throws -> Bool {
        let key = RecordCoding.key(address)
        let bytes = Array(identity.serialized)
        cache.update { $0.identities[address] = nil }
        let replaced = try await write { tx in
            let previous = try tx.identity(of: key)
            try tx.putIdentity(bytes, of: key)
            return previous != nil && previous != bytes
        }
        cache.update { $0.identities.updateValue(identity, forKey: address) }
        return replaced
    }

    /// Trust on first use, as whatsmeow's store: an unknown identity is trusted, a known one only
    /// if it is the same key.
    func isTrustedIdentity(_ identity: ECPublicKey, for address: ProtocolAddress, direction: Direction) async throws -> Bool {
        guard let known = try await self.identity(for: address) else { return true }
        return known == identity
    }

    func identity(for address: ProtocolAddress) async throws -> ECPublicKey? {
        let (cached, version) = cache.lookUp { $0.identities[address] }
        if let cached { return cached }
        let key = RecordCoding.key(address)
        let identity = try RecordCoding.identity(try await read { try $0.identity(of: key) })
        cache.fill(readAt: version) { $0.identities.updateValue(identity, forKey: address) }
        return identity
    }

    func loadPreKey(id: UInt32) async throws -> PreKeyRecord? {
        try RecordCoding.preKey(try await read { try $0.preKey(id: id) })
    }

    /// Stores a prekey made outside ``storeGeneratedPreKeys(_:)``; an id already holding other
    /// keys is refused rather than overwritten.
    func storePreKey(_ record: PreKeyRecord) async throws {
        let (id, bytes) = (record.id, Array(record.serialized))
        try await write { tx in
            if let existing = try tx.preKey(id: id) {
                guard existing.record == bytes else { throw Failure.preKeyAlreadyStored(id) }
                return
            }
            try tx.putPreKey(id: id, record: bytes)
        }
    }

    func removePreKey(id: UInt32) async throws {
        try await write { try $0.removePreKey(id: id) }
    }

    /// The stored signed prekey, or the one the credentials were made with.
    func loadSignedPreKey(id: UInt32) async throws -> SignedPreKeyRecord? {
        if let bytes = try await read({ try $0.signedPreKey() }) {
            let stored = try SignedPreKeyRecord(serialized: Data(bytes))
            if stored.id == id { return stored }
        }
        guard let credentials = try await loadCredentials(), credentials.signedPreKey.id == id else { return nil }
        return credentials.signedPreKeyRecord()
    }

    func storeSignedPreKey(_ record: SignedPreKeyRecord) async throws {
        let bytes = Array(record.serialized)
        try await write { try $0.setSignedPreKey(bytes) }
    }

    func loadSession(for address: ProtocolAddress) async throws -> SessionRecord? {
        let (cached, version) = cache.lookUp { $0.sessions[address] }
        if let cached { return cached }
        let key = RecordCoding.key(address)
        let record = try await read({ try $0.signalSession(with: key) }).map { try SessionRecord(serialized: Data($0)) }
        cache.fill(readAt: version) { $0.sessions.updateValue(record, forKey: address) }
        return record
    }

    func storeSession(_ record: SessionRecord, for address: ProtocolAddress) async throws {
        let (key, bytes) = (RecordCoding.key(address), Array(record.serialized))
        cache.update { $0.sessions[address] = nil }
        try await write { try $0.putSignalSession(bytes, with: key) }
        cache.update { $0.sessions.updateValue(record, forKey: address) }
    }

    func loadSenderKey(for name: SenderKeyName) async throws -> SenderKeyRecord? {
        let (group, sender) = (name.groupId, RecordCoding.key(name.sender))
        guard let bytes = try await read({ try $0.senderKey(group: group, sender: sender) }) else { return nil }
        return try SenderKeyRecord(serialized: Data(bytes))
    }

    func storeSenderKey(_ record: SenderKeyRecord, for name: SenderKeyName) async throws {
        let (group, sender, bytes) = (name.groupId, RecordCoding.key(name.sender), Array(record.serialized))
        try await write { try $0.putSenderKey(bytes, group: group, sender: sender) }
    }
}
