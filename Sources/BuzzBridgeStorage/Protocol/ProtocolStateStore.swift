import BuzzBridgeCore

/// The WhatsApp and Signal protocol state of each session, as bytes: the engine that owns the
/// session serialises its records (protobuf where Signal defines one) and this store keeps them.
/// Storage never sees a protocol type, so a second backend (PostgreSQL) implements only this.
///
/// Every change runs in a transaction (``withTransaction(session:_:)``): the writes of one body
/// commit together or not at all, so a crash at any instant leaves either the state before the
/// body or the state after it. An engine writes what a message depends on (a ratchet step, a
/// prekey marked as given out) before it sends that message.
public protocol ProtocolStateStore: Sendable {
    /// Reads `session`'s state from one consistent snapshot.
    func readProtocolState<T: Sendable>(
        session: SessionID, _ body: @escaping @Sendable (any ProtocolStateReader) throws -> T
    ) async throws -> T

    /// Runs `body` in one transaction and returns once it has committed. If `body` throws,
    /// nothing it wrote is kept and the error is rethrown.
    ///
    /// `body` may run more than once before it commits (the SQLite store retries a write alone
    /// when another one of its group failed), so it must only read and write through `tx`.
    func withTransaction<T: Sendable>(
        session: SessionID, _ body: @escaping @Sendable (any ProtocolStateTransaction) throws -> T
    ) async throws -> T

    /// Removes everything of `session`'s protocol state (logout, a device removed by the phone).
    func wipeProtocolState(session: SessionID) async throws
}

/// The reads of one session's protocol state; synchronous, inside a snapshot or a transaction.
public protocol ProtocolStateReader {
    var session: SessionID { get }

    /// This device's own keys and registration id, written at first start.
    func credentials() throws -> [UInt8]?
    /// The account this device is linked to, written once pairing succeeded.
    func pairedDevice() throws -> [UInt8]?
    func signedPreKey() throws -> [UInt8]?
    /// The name presence announces, as the client keeps it.
    func pushName() throws -> [UInt8]?

    func preKey(id: UInt32) throws -> StoredPreKey?
    /// Prekeys not yet uploaded, oldest id first.
    func unuploadedPreKeys(limit: Int) throws -> [StoredPreKey]
    func uploadedPreKeyCount() throws -> Int
    /// The id ``ProtocolStateTransaction/reservePreKeyIDs(count:)`` will give out next.
    func nextPreKeyID() throws -> UInt32

    func identity(of address: ProtocolAddressKey) throws -> [UInt8]?
    func signalSession(with address: ProtocolAddressKey) throws -> [UInt8]?
    /// The devices of `user` that a Signal session exists with.
    func signalSessionDevices(ofUser user: String) throws -> [Int]
    func senderKey(group: String, sender: ProtocolAddressKey) throws -> [UInt8]?

    func lid(forPhone phoneUser: String) throws -> String?
    func phone(forLID lidUser: String) throws -> String?

    func deviceList(ofUser user: String) throws -> StoredDeviceList?

    /// The decrypt buffer's entry for a ciphertext hash (32 bytes), if any.
    func bufferedDecryption(hash: [UInt8]) throws -> StoredDecryption?
}

/// Reads and writes of one session's protocol state inside a transaction.
public protocol ProtocolStateTransaction: ProtocolStateReader {
    func setCredentials(_ bytes: [UInt8]) throws
    func setPairedDevice(_ bytes: [UInt8]?) throws
    func setSignedPreKey(_ bytes: [UInt8]) throws
    func setPushName(_ bytes: [UInt8]) throws

    /// Gives out `count` prekey ids never given out before for this session (until the 24-bit id
    /// space wraps, after 16 million keys), in order. The counter moves in this transaction, so a
    /// crash either keeps both the ids and what the body stored under them, or neither.
    func reservePreKeyIDs(count: Int) throws -> [UInt32]
    /// Stores a prekey not yet uploaded; its id must come from ``reservePreKeyIDs(count:)``.
    func putPreKey(id: UInt32, record: [UInt8]) throws
    func markPreKeysUploaded(_ ids: [UInt32]) throws
    func removePreKey(id: UInt32) throws

    func putIdentity(_ key: [UInt8], of address: ProtocolAddressKey) throws
    func removeIdentity(of address: ProtocolAddressKey) throws

    func putSignalSession(_ record: [UInt8], with address: ProtocolAddressKey) throws
    func removeSignalSession(with address: ProtocolAddressKey) throws
    /// Removes the sessions with every device of `user` (an identity change, a re-registration).
    func removeAllSignalSessions(ofUser user: String) throws

    func putSenderKey(_ record: [UInt8], group: String, sender: ProtocolAddressKey) throws
    func removeSenderKey(group: String, sender: ProtocolAddressKey) throws

    /// Records that `lidUser` and `phoneUser` are the same account; an older pair that names
    /// either of them is replaced.
    func putLIDMapping(lid lidUser: String, phone phoneUser: String) throws

    func putDeviceList(_ list: StoredDeviceList, ofUser user: String) throws
    func removeDeviceList(ofUser user: String) throws

    /// Buffers the plaintext of a decryption under its ciphertext hash; written in the same
    /// transaction as the ratchet step the decryption took. An entry already there is kept.
    func putBufferedDecryption(hash: [UInt8], plaintext: [UInt8], serverTimestamp: Timestamp, insertedAt: Timestamp) throws
    /// Drops the plaintext (the message is stored) and keeps the hash.
    func clearBufferedPlaintext(hash: [UInt8]) throws
    func removeBufferedDecryptions(insertedBefore: Timestamp) throws
}
