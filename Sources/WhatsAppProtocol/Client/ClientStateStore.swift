import Foundation
import SignalProtocol

/// Everything the WhatsApp client keeps between runs, behind one protocol so that a database
/// can implement it (the gateway's SQLite store does) and tests can keep it in memory.
///
/// It extends the device store (credentials and the paired device) and the Signal stores the
/// sessions need. The client writes through it before it sends anything that depends on the
/// write: a prekey is stored before it is uploaded, the pairing before `pair-device-sign`,
/// a pairing code's ADV secret before `companion_finish`. Methods that write several things
/// must write them together (one transaction), so a crash never leaves half of them.
public protocol ClientStateStore: DeviceStore, SignalProtocolStore, SenderKeyStore {
    /// Stores what a verified pair-success established, all at once: the paired device, the
    /// primary phone's identity key as the trusted identity of `primaryAddress` (its LID user,
    /// device 0), and the LID↔phone-number pair of the account when the server sent a LID.
    func savePairing(_ pairing: PairingRecord) async throws

    /// The push name presence announces; nil until one is set.
    func loadPushName() async throws -> String?
    func savePushName(_ name: String) async throws

    // MARK: One-time prekeys

    /// The id the next generated prekey gets (1 for a new device).
    func nextPreKeyID() async throws -> UInt32
    /// Stores freshly generated prekeys, not yet uploaded, and advances the next id past the
    /// last of them, together.
    func storeGeneratedPreKeys(_ records: [PreKeyRecord]) async throws
    /// Prekeys generated earlier that were never marked uploaded, lowest ids first.
    func preKeysNotUploaded(limit: Int) async throws -> [PreKeyRecord]
    /// Marks every stored prekey with an id up to `id` as uploaded.
    func markPreKeysUploaded(through id: UInt32) async throws
    /// How many stored prekeys are marked uploaded (and not consumed).
    func uploadedPreKeyCount() async throws -> Int

    // MARK: LID ↔ phone number

    /// Records that `lid` and `phone` (both without device) are the same account.
    func storeLIDMapping(lid: JID, phone: JID) async throws
    func lid(forPhone phone: JID) async throws -> JID?
    func phone(forLID lid: JID) async throws -> JID?

    // MARK: Device lists

    /// The devices of `user` (a phone-number or LID user, no device) as last fetched, or nil.
    func deviceList(of user: JID) async throws -> DeviceList?
    /// Replaces the stored device list of `list.user`.
    func storeDeviceList(_ list: DeviceList) async throws
    /// Forgets `user`'s device list, so the next message asks the server again.
    func removeDeviceList(of user: JID) async throws

    // MARK: Signal removals (used when a contact's identity changes)

    func deleteSession(for address: ProtocolAddress) async throws
    /// Deletes the sessions of every device of the Signal user `name` (e.g. `123_1`).
    func deleteAllSessions(ofUser name: String) async throws
    func deleteIdentity(for address: ProtocolAddress) async throws

    // MARK: Decrypt buffer (``DecryptionBuffer``)

    /// What the buffer holds under `key`, or nil when that ciphertext was never decrypted.
    func bufferedDecryption(key: Data) async throws -> BufferedDecryption?
    /// Writes a decryption's Signal state changes and its plaintext (under its key) in one
    /// transaction: after a crash both are there or neither is.
    func commitDecryption(_ commit: DecryptionCommit) async throws
    /// Forgets the plaintext under `key` (the owner stored the message) but keeps the key, so a
    /// later delivery of the same ciphertext is known as processed.
    func clearBufferedPlaintext(key: Data) async throws
    /// Removes the entries buffered before `date`.
    func removeBufferedDecryptions(before date: Date) async throws

    /// Stores a one-time prekey handed to a sender directly (in a retry receipt): its id
    /// reserved, the key stored and counted as given out, together.
    func storeGivenOutPreKey(_ record: PreKeyRecord) async throws
}

/// What a verified pair-success stores, in one write.
public struct PairingRecord: Sendable, Equatable {
    public var device: PairedDevice
    /// The primary phone's identity (the account signature key).
    public var primaryIdentity: ECPublicKey
    /// Where that identity is trusted: the account's LID user, device 0 (whatsmeow pair.go:
    /// handlePair stores it under the main device's LID address).
    public var primaryAddress: ProtocolAddress
    /// The account's LID and phone-number users, when the server sent a LID.
    public var lidMapping: LIDMapping?

    public init(device: PairedDevice, primaryIdentity: ECPublicKey, primaryAddress: ProtocolAddress, lidMapping: LIDMapping?) {
        self.device = device
        self.primaryIdentity = primaryIdentity
        self.primaryAddress = primaryAddress
        self.lidMapping = lidMapping
    }
}

/// One account's LID and phone-number users (no device).
public struct LIDMapping: Sendable, Hashable {
    public var lid: JID
    public var phone: JID

    public init(lid: JID, phone: JID) {
        self.lid = lid.withoutDevice
        self.phone = phone.withoutDevice
    }
}

/// A user's devices as the server listed them, and when.
public struct DeviceList: Sendable, Equatable, Codable {
    /// The user, without device.
    public var user: JID
    /// Every device of the user, the primary (device 0) included.
    public var devices: [JID]
    public var fetchedAt: Date

    public init(user: JID, devices: [JID], fetchedAt: Date) {
        self.user = user.withoutDevice
        self.devices = devices
        self.fetchedAt = fetchedAt
    }
}
