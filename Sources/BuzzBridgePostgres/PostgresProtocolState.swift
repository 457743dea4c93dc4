import BuzzBridgeCore
import BuzzBridgeStorage
import Logging
import NIOCore
import PostgresNIO

/// One session's protocol state on a connection inside a transaction that
/// ``PostgresStore/withTransaction(session:_:)`` or ``PostgresStore/readProtocolState(session:_:)``
/// opened. The protocol's bodies are synchronous (SQLite runs them inside its write closure), so
/// this runs on a thread of the store's blocking pool and waits for each statement's answer;
/// it must never run on an event loop.
///
/// Every statement that changes protocol state goes through ``write(_:)``, and every write
/// transaction starts in ``begin(_:session:connection:logger:)``, which serialises the session's
/// writes and is where the ownership fence plugs in (see ``ProtocolWriteMode``).
struct PostgresProtocolState: ProtocolStateTransaction {
    let connection: PostgresConnection
    let session: SessionID
    let logger: Logger

    /// Every table holding protocol state, all keyed by `session_id` first.
    static let tables = [
        "wa_device", "wa_prekeys", "wa_identities", "wa_signal_sessions", "wa_sender_keys", "wa_lid_map", "wa_device_lists", "wa_decrypt_buffer",
    ]
    /// Prekey ids are 24 bits on the wire (three bytes in the upload); 0 is never used.
    static let largestPreKeyID: UInt32 = 0xFF_FFFF
    /// The first key of the advisory locks that serialise one session's protocol writes (the
    /// second is the hash of the session id): "bzbp".
    static let writeLockClass: Int32 = 0x627A_6270

    private var id: String { session.rawValue }

    // MARK: Transactions

    /// Opens the transaction `mode` asks for on `connection`.
    ///
    /// A write transaction first takes the session's advisory lock for the rest of the
    /// transaction: the session's protocol writes then run one after the other on every node, as
    /// SQLite's single writer runs them (a prekey id read and moved by two transactions at once
    /// would otherwise be given out twice).
    ///
    /// Then, when the store was opened with leases (``ProtocolFence/token(_:)``), the fence: in
    /// the same transaction, `SELECT token FROM session_leases … FOR SHARE` reads the session's
    /// current token (that of a held lease; a released one has none) and the transaction is
    /// refused with ``SessionLeaseError/fenced(session:writerToken:currentToken:)`` unless it is
    /// the writer's, before anything is written. The row lock held to the commit means a takeover
    /// (which raises the token under `FOR UPDATE`) waits for this transaction or is seen by it, so
    /// no write of an old owner can land after its successor's. Every protocol write happens in
    /// such a transaction (``write(_:)`` is the only path), wipes included.
    static func begin(_ mode: ProtocolWriteMode, session: SessionID, connection: PostgresConnection, logger: Logger) throws {
        switch mode {
        case .read:
            try run("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", connection, logger)
        case .write(let fence):
            try run("BEGIN", connection, logger)
            try run("SELECT pg_advisory_xact_lock(\(writeLockClass), hashtext(\(session.rawValue)))", connection, logger)
            guard case .token(let writerToken) = fence else { return }
            let current = try run(
                "SELECT token FROM session_leases WHERE session_id = \(session.rawValue) AND owner IS NOT NULL FOR SHARE", connection, logger
            ).map { try $0.makeRandomAccess()[0].decode(Int64.self) }.first
            if let refusal = SessionLeasePolicy.fence(session: session, writerToken: writerToken, currentToken: current) { throw refusal }
        }
    }

    /// Runs `body` in a transaction of `mode`, commits, and returns its value; rolls back and
    /// rethrows if anything throws, the fence included.
    static func transaction<T>(
        _ mode: ProtocolWriteMode, session: SessionID, connection: PostgresConnection, logger: Logger, _ body: (PostgresProtocolState) throws -> T
    ) throws -> T {
        do {
            try begin(mode, session: session, connection: connection, logger: logger)
            let value = try body(PostgresProtocolState(connection: connection, session: session, logger: logger))
            try run("COMMIT", connection, logger)
            return value
        } catch {
            _ = try? run("ROLLBACK", connection, logger)
            throw error
        }
    }

    /// Waits for one statement on the blocking thread this runs on.
    @discardableResult
    private static func run(_ query: PostgresQuery, _ connection: PostgresConnection, _ logger: Logger) throws -> PostgresQueryResult {
        try connection.query(query, logger: logger).wait()
    }

    /// The one path of every change to protocol state.
    private func write(_ query: PostgresQuery) throws {
        try Self.run(query, connection, logger)
    }

    private func rows<T>(_ query: PostgresQuery, _ decode: (PostgresRandomAccessRow) throws -> T) throws -> [T] {
        try Self.run(query, connection, logger).map { try decode($0.makeRandomAccess()) }
    }

    private func blob(_ query: PostgresQuery) throws -> [UInt8]? {
        try rows(query) { try $0[0].decode(ByteBuffer?.self).map { Array($0.readableBytesView) } }.first ?? nil
    }

    /// Wipes every table of the session (logout, a device removed by the phone).
    func wipe() throws {
        for table in Self.tables { try write("DELETE FROM \(unescaped: table) WHERE session_id = \(id)") }
    }

    // MARK: Device

    func credentials() throws -> [UInt8]? { try deviceColumn("credentials") }
    func pairedDevice() throws -> [UInt8]? { try deviceColumn("paired_device") }
    func signedPreKey() throws -> [UInt8]? { try deviceColumn("signed_prekey") }
    func pushName() throws -> [UInt8]? { try deviceColumn("push_name") }

    func setCredentials(_ bytes: [UInt8]) throws { try setDeviceColumn("credentials", bytes) }
    func setPairedDevice(_ bytes: [UInt8]?) throws { try setDeviceColumn("paired_device", bytes) }
    func setSignedPreKey(_ bytes: [UInt8]) throws { try setDeviceColumn("signed_prekey", bytes) }
    func setPushName(_ bytes: [UInt8]) throws { try setDeviceColumn("push_name", bytes) }

    /// `column` is one of the fixed names above, never caller input.
    private func deviceColumn(_ column: String) throws -> [UInt8]? {
        try blob("SELECT \(unescaped: column) FROM wa_device WHERE session_id = \(id)")
    }

    private func setDeviceColumn(_ column: String, _ bytes: [UInt8]?) throws {
        try write(
            """
            INSERT INTO wa_device (session_id, \(unescaped: column)) VALUES (\(id), \(bytes.map(Bytea.init)))
            ON CONFLICT (session_id) DO UPDATE SET \(unescaped: column) = excluded.\(unescaped: column)
            """)
    }

    // MARK: Prekeys

    func preKey(id keyID: UInt32) throws -> StoredPreKey? {
        try rows("SELECT key_id, record, uploaded FROM wa_prekeys WHERE session_id = \(id) AND key_id = \(Int64(keyID))", Self.preKey).first
    }

    func unuploadedPreKeys(limit: Int) throws -> [StoredPreKey] {
        try rows(
            """
            SELECT key_id, record, uploaded FROM wa_prekeys WHERE session_id = \(id) AND NOT uploaded ORDER BY key_id
            LIMIT \(Int64(clamping: limit))
            """, Self.preKey)
    }

    func uploadedPreKeyCount() throws -> Int {
        try rows("SELECT COUNT(*) FROM wa_prekeys WHERE session_id = \(id) AND uploaded") { Int(try $0[0].decode(Int64.self)) }.first ?? 0
    }

    func nextPreKeyID() throws -> UInt32 {
        let stored = try rows("SELECT next_prekey_id FROM wa_device WHERE session_id = \(id)") { try $0[0].decode(Int64.self) }.first
        return stored.map { UInt32(truncatingIfNeeded: $0) } ?? 1
    }

    func reservePreKeyIDs(count: Int) throws -> [UInt32] {
        guard count > 0 else { return [] }
        var next = try nextPreKeyID()
        var ids: [UInt32] = []
        ids.reserveCapacity(count)
        for _ in 0..<count {
            ids.append(next)
            next = next >= Self.largestPreKeyID ? 1 : next + 1
        }
        try write(
            """
            INSERT INTO wa_device (session_id, next_prekey_id) VALUES (\(id), \(Int64(next)))
            ON CONFLICT (session_id) DO UPDATE SET next_prekey_id = excluded.next_prekey_id
            """)
        return ids
    }

    func putPreKey(id keyID: UInt32, record: [UInt8]) throws {
        // A plain INSERT: an id stored twice is a bug that must fail loudly, never overwrite a key
        // the server may already have handed out.
        try write("INSERT INTO wa_prekeys (session_id, key_id, record, uploaded) VALUES (\(id), \(Int64(keyID)), \(Bytea(record)), FALSE)")
    }

    func markPreKeysUploaded(_ ids: [UInt32]) throws {
        guard !ids.isEmpty else { return }
        try write("UPDATE wa_prekeys SET uploaded = TRUE WHERE session_id = \(id) AND key_id = ANY(\(ids.map { Int64($0) }))")
    }

    func removePreKey(id keyID: UInt32) throws {
        try write("DELETE FROM wa_prekeys WHERE session_id = \(id) AND key_id = \(Int64(keyID))")
    }

    private static func preKey(_ row: PostgresRandomAccessRow) throws -> StoredPreKey {
        guard let record = try row[1].decode(ByteBuffer?.self) else { throw StoreError.corruptRow("prekey without a record") }
        return StoredPreKey(
            id: UInt32(truncatingIfNeeded: try row[0].decode(Int64.self)), record: Array(record.readableBytesView),
            uploaded: try row[2].decode(Bool.self))
    }

    // MARK: Identities and sessions

    func identity(of address: ProtocolAddressKey) throws -> [UInt8]? {
        try blob("SELECT identity FROM wa_identities WHERE session_id = \(id) AND \"user\" = \(address.user) AND device = \(address.device)")
    }

    func putIdentity(_ key: [UInt8], of address: ProtocolAddressKey) throws {
        try write(
            """
            INSERT INTO wa_identities (session_id, "user", device, identity) VALUES (\(id), \(address.user), \(address.device), \(Bytea(key)))
            ON CONFLICT (session_id, "user", device) DO UPDATE SET identity = excluded.identity
            """)
    }

    func removeIdentity(of address: ProtocolAddressKey) throws {
        try write("DELETE FROM wa_identities WHERE session_id = \(id) AND \"user\" = \(address.user) AND device = \(address.device)")
    }

    func signalSession(with address: ProtocolAddressKey) throws -> [UInt8]? {
        try blob("SELECT record FROM wa_signal_sessions WHERE session_id = \(id) AND \"user\" = \(address.user) AND device = \(address.device)")
    }

    func signalSessionDevices(ofUser user: String) throws -> [Int] {
        try rows("SELECT device FROM wa_signal_sessions WHERE session_id = \(id) AND \"user\" = \(user) ORDER BY device") {
            Int(try $0[0].decode(Int64.self))
        }
    }

    func putSignalSession(_ record: [UInt8], with address: ProtocolAddressKey) throws {
        try write(
            """
            INSERT INTO wa_signal_sessions (session_id, "user", device, record) VALUES (\(id), \(address.user), \(address.device), \(Bytea(record)))
            ON CONFLICT (session_id, "user", device) DO UPDATE SET record = excluded.record
            """)
    }

    func removeSignalSession(with address: ProtocolAddressKey) throws {
        try write("DELETE FROM wa_signal_sessions WHERE session_id = \(id) AND \"user\" = \(address.user) AND device = \(address.device)")
    }

    func removeAllSignalSessions(ofUser user: String) throws {
        try write("DELETE FROM wa_signal_sessions WHERE session_id = \(id) AND \"user\" = \(user)")
    }

    // MARK: Sender keys

    func senderKey(group: String, sender: ProtocolAddressKey) throws -> [UInt8]? {
        try blob(
            """
            SELECT record FROM wa_sender_keys
            WHERE session_id = \(id) AND group_id = \(group) AND sender_user = \(sender.user) AND sender_device = \(sender.device)
            """)
    }

    func putSenderKey(_ record: [UInt8], group: String, sender: ProtocolAddressKey) throws {
        try write(
            """
            INSERT INTO wa_sender_keys (session_id, group_id, sender_user, sender_device, record)
            VALUES (\(id), \(group), \(sender.user), \(sender.device), \(Bytea(record)))
            ON CONFLICT (session_id, group_id, sender_user, sender_device) DO UPDATE SET record = excluded.record
            """)
    }

    func removeSenderKey(group: String, sender: ProtocolAddressKey) throws {
        try write(
            """
            DELETE FROM wa_sender_keys
            WHERE session_id = \(id) AND group_id = \(group) AND sender_user = \(sender.user) AND sender_device = \(sender.device)
            """)
    }

    // MARK: LID map

    func lid(forPhone phoneUser: String) throws -> String? {
        try rows("SELECT lid FROM wa_lid_map WHERE session_id = \(id) AND phone = \(phoneUser)") { try $0[0].decode(String.self) }.first
    }

    func phone(forLID lidUser: String) throws -> String? {
        try rows("SELECT phone FROM wa_lid_map WHERE session_id = \(id) AND lid = \(lidUser)") { try $0[0].decode(String.self) }.first
    }

    func putLIDMapping(lid lidUser: String, phone phoneUser: String) throws {
        try write("DELETE FROM wa_lid_map WHERE session_id = \(id) AND (lid = \(lidUser) OR phone = \(phoneUser))")
        try write("INSERT INTO wa_lid_map (session_id, lid, phone) VALUES (\(id), \(lidUser), \(phoneUser))")
    }

    // MARK: Device lists

    func deviceList(ofUser user: String) throws -> StoredDeviceList? {
        try rows("SELECT record, fetched_at FROM wa_device_lists WHERE session_id = \(id) AND \"user\" = \(user)") { row in
            guard let record = try row[0].decode(ByteBuffer?.self) else { throw StoreError.corruptRow("device list without a record") }
            return StoredDeviceList(
                record: Array(record.readableBytesView), fetchedAt: Timestamp(millisecondsSinceEpoch: try row[1].decode(Int64.self)))
        }.first
    }

    func putDeviceList(_ list: StoredDeviceList, ofUser user: String) throws {
        try write(
            """
            INSERT INTO wa_device_lists (session_id, "user", record, fetched_at)
            VALUES (\(id), \(user), \(Bytea(list.record)), \(list.fetchedAt.millisecondsSinceEpoch))
            ON CONFLICT (session_id, "user") DO UPDATE SET record = excluded.record, fetched_at = excluded.fetched_at
            """)
    }

    func removeDeviceList(ofUser user: String) throws {
        try write("DELETE FROM wa_device_lists WHERE session_id = \(id) AND \"user\" = \(user)")
    }

    // MARK: Decrypt buffer

    func bufferedDecryption(hash: [UInt8]) throws -> StoredDecryption? {
        try rows("SELECT plaintext, inserted_at FROM wa_decrypt_buffer WHERE session_id = \(id) AND hash = \(Bytea(hash))") { row in
            StoredDecryption(
                plaintext: try row[0].decode(ByteBuffer?.self).map { Array($0.readableBytesView) },
                insertedAt: Timestamp(millisecondsSinceEpoch: try row[1].decode(Int64.self)))
        }.first
    }

    func putBufferedDecryption(hash: [UInt8], plaintext: [UInt8], serverTimestamp: Timestamp, insertedAt: Timestamp) throws {
        try write(
            """
            INSERT INTO wa_decrypt_buffer (session_id, hash, plaintext, server_timestamp, inserted_at)
            VALUES (\(id), \(Bytea(hash)), \(Bytea(plaintext)), \(serverTimestamp.millisecondsSinceEpoch), \(insertedAt.millisecondsSinceEpoch))
            ON CONFLICT (session_id, hash) DO NOTHING
            """)
    }

    func clearBufferedPlaintext(hash: [UInt8]) throws {
        try write("UPDATE wa_decrypt_buffer SET plaintext = NULL WHERE session_id = \(id) AND hash = \(Bytea(hash))")
    }

    func removeBufferedDecryptions(insertedBefore time: Timestamp) throws {
        try write("DELETE FROM wa_decrypt_buffer WHERE session_id = \(id) AND inserted_at < \(time.millisecondsSinceEpoch)")
    }
}

/// What a protocol-state transaction may do.
enum ProtocolWriteMode: Sendable {
    /// One consistent snapshot, no writes.
    case read
    /// Reads and writes, serialised with the session's other writes, behind the fence.
    case write(ProtocolFence)
}
