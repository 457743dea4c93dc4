import Foundation
import SignalProtocol

/// A `ClientStateStore` in memory, for tests and throwaway clients. Each method is one actor
/// turn, so what it writes together is seen together.
public actor InMemoryClientStateStore: ClientStateStore {
    private var credentials: DeviceCredentials?
    private var pairedDevice: PairedDevice?
    private var pushName: String?
    private var identities: [ProtocolAddress: ECPublicKey] = [:]
    private var preKeys: [UInt32: PreKeyRecord] = [:]
    private var uploadedPreKeyIDs: Set<UInt32> = []
    private var nextID: UInt32 = 1
    private var signedPreKeys: [UInt32: SignedPreKeyRecord] = [:]
    private var sessions: [ProtocolAddress: SessionRecord] = [:]
    private var senderKeys: [SenderKeyName: SenderKeyRecord] = [:]
    private var lidByPhone: [JID: JID] = [:]
    private var phoneByLID: [JID: JID] = [:]
    private var buffer: [Data: (plaintext: Data?, insertedAt: Date)] = [:]
    private var deviceLists: [JID: DeviceList] = [:]

    public init() {}

    // MARK: DeviceStore

    public func loadCredentials() -> DeviceCredentials? { credentials }
    public func saveCredentials(_ credentials: DeviceCredentials) { self.credentials = credentials }
    public func loadPairedDevice() -> PairedDevice? { pairedDevice }
    public func savePairedDevice(_ device: PairedDevice) { pairedDevice = device }

    public func removeAll() {
        credentials = nil
        pairedDevice = nil
        pushName = nil
        identities = [:]
        preKeys = [:]
        uploadedPreKeyIDs = []
        nextID = 1
        signedPreKeys = [:]
        sessions = [:]
        senderKeys = [:]
        lidByPhone = [:]
        phoneByLID = [:]
        buffer = [:]
        deviceLists = [:]
    }

    // MARK: ClientStateStore

    public func savePairing(_ pairing: PairingRecord) {
        pairedDevice = pairing.device
        identities[pairing.primaryAddress] = pairing.primaryIdentity
        if let mapping = pairing.lidMapping { storeLIDMapping(lid: mapping.lid, phone: mapping.phone) }
    }

    public func loadPushName() -> String? { pushName }
    public func savePushName(_ name: String) { pushName = name }

    public func nextPreKeyID() -> UInt32 { nextID }

    public func storeGeneratedPreKeys(_ records: [PreKeyRecord]) {
        for record in records { preKeys[record.id] = record }
        if let last = records.last { nextID = last.id % KeyHelper.preKeyIdLimit + 1 }
    }

    public func preKeysNotUploaded(limit: Int) -> [PreKeyRecord] {
        Array(preKeys.values.filter { !uploadedPreKeyIDs.contains($0.id) }.sorted { $0.id < $1.id }.prefix(limit))
    }

    public func markPreKeysUploaded(through id: UInt32) {
        for key in preKeys.keys where key <= id { uploadedPreKeyIDs.insert(key) }
    }

    public func uploadedPreKeyCount() -> Int { preKeys.keys.filter { uploadedPreKeyIDs.contains($0) }.count }

    public func storeLIDMapping(lid: JID, phone: JID) {
        lidByPhone[phone.withoutDevice] = lid.withoutDevice
        phoneByLID[lid.withoutDevice] = phone.withoutDevice
    }

    public func lid(forPhone phone: JID) -> JID? { lidByPhone[phone.withoutDevice] }
    public func phone(forLID lid: JID) -> JID? { phoneByLID[lid.withoutDevice] }

    public func deviceList(of user: JID) -> DeviceList? { deviceLists[user.withoutDevice] }
    public func storeDeviceList(_ list: DeviceList) { deviceLists[list.user] = list }
    public func removeDeviceList(of user: JID) { deviceLists[user.withoutDevice] = nil }

    public func deleteSession(for address: ProtocolAddress) { sessions[address] = nil }

    public func deleteAllSessions(ofUser name: String) {
        for address in sessions.keys where address.name == name { sessions[address] = nil }
    }

    public func deleteIdentity(for address: ProtocolAddress) { identities[address] = nil }

    // MARK: Decrypt buffer

    public func bufferedDecryption(key: Data) -> BufferedDecryption? {
        guard let entry = buffer[key] else { return nil }
        return entry.plaintext.map { .plaintext($0) } ?? .processed
    }

    public func commitDecryption(_ commit: DecryptionCommit) {
        let changes = commit.changes
        for (address, record) in changes.sessions { sessions[address] = record }
        for (address, identity) in changes.identities { identities[address] = identity }
        for id in changes.removedPreKeys { removePreKey(id: id) }
        for (name, record) in changes.senderKeys { senderKeys[name] = record }
        buffer[commit.bufferKey] = (commit.plaintext, Date())
    }

    public func clearBufferedPlaintext(key: Data) {
        if let entry = buffer[key] { buffer[key] = (nil, entry.insertedAt) }
    }

    public func removeBufferedDecryptions(before date: Date) {
        buffer = buffer.filter { $0.value.insertedAt >= date }
    }

    public func storeGivenOutPreKey(_ record: PreKeyRecord) {
        storeGeneratedPreKeys([record])
        uploadedPreKeyIDs.insert(record.id)
    }

    // MARK: Signal stores

    public func identityKeyPair() throws -> IdentityKeyPair {
        guard let credentials else { throw InMemoryClientStateStoreError.noCredentials }
        return credentials.identityKeyPair
    }

    public func localRegistrationId() throws -> UInt32 {
        guard let credentials else { throw InMemoryClientStateStoreError.noCredentials }
        return credentials.registrationID
    }

    @discardableResult
    public func saveIdentity(_ identity: ECPublicKey, for address: ProtocolAddress) -> Bool {
        let previous = identities.updateValue(identity, forKey: address)
        return previous != nil && previous != identity
    }

    public func isTrustedIdentity(_ identity: ECPublicKey, for address: ProtocolAddress, direction: Direction) -> Bool {
        identities[address].map { $0 == identity } ?? true
    }

    public func identity(for address: ProtocolAddress) -> ECPublicKey? { identities[address] }

    public func loadPreKey(id: UInt32) -> PreKeyRecord? { preKeys[id] }
    public func storePreKey(_ record: PreKeyRecord) { preKeys[record.id] = record }

    public func removePreKey(id: UInt32) {
        preKeys[id] = nil
        uploadedPreKeyIDs.remove(id)
    }

    /// The signed prekey of the credentials is served as well as any stored one.
    public func loadSignedPreKey(id: UInt32) -> SignedPreKeyRecord? {
        if let stored = signedPreKeys[id] { return stored }
        guard let credentials, credentials.signedPreKey.id == id else { return nil }
        return credentials.signedPreKeyRecord()
    }

    public func storeSignedPreKey(_ record: SignedPreKeyRecord) { signedPreKeys[record.id] = record }

    public func loadSession(for address: ProtocolAddress) -> SessionRecord? { sessions[address] }
    public func storeSession(_ record: SessionRecord, for address: ProtocolAddress) { sessions[address] = record }

    public func loadSenderKey(for name: SenderKeyName) -> SenderKeyRecord? { senderKeys[name] }
    public func storeSenderKey(_ record: SenderKeyRecord, for name: SenderKeyName) { senderKeys[name] = record }
}

public enum InMemoryClientStateStoreError: Error, Equatable, Sendable {
    case noCredentials
}
