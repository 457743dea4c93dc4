import BuzzBridgeCore
import Foundation
import GRDB

/// One session's protocol state on a connection that is inside a read snapshot or a write
/// transaction; the transaction's owner commits.
struct SQLiteProtocolState: ProtocolStateTransaction {
    let db: Database
    let session: SessionID

    /// Every table holding protocol state, all keyed by `session_id` first.
    static let tables = [
        "wa_device", "wa_prekeys", "wa_identities", "wa_signal_sessions", "wa_sender_keys", "wa_lid_map", "wa_device_lists", "wa_decrypt_buffer",
    ]
    /// Prekey ids are 24 bits on the wire (three bytes in the upload); 0 is never used.
    static let largestPreKeyID: UInt32 = 0xFF_FFFF

    private var id: String { session.rawValue }

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
        try blob("SELECT \(column) FROM wa_device WHERE session_id = ?", [id])
    }

    private func setDeviceColumn(_ column: String, _ bytes: [UInt8]?) throws {
        try db.run(
            """
            INSERT INTO wa_device (session_id, \(column)) VALUES (?, ?)
            ON CONFLICT (session_id) DO UPDATE SET \(column) = excluded.\(column)
            """,
            [id, bytes.map { Data($0) }]
        )
    }

    // MARK: Prekeys

    func preKey(id keyID: UInt32) throws -> StoredPreKey? {
        try db.rows("SELECT key_id, record, uploaded FROM wa_prekeys WHERE session_id = ? AND key_id = ?", [id, Int64(keyID)], Self.preKey).first
    }

    func unuploadedPreKeys(limit: Int) throws -> [StoredPreKey] {
        try db.rows(
            "SELECT key_id, record, uploaded FROM wa_prekeys WHERE session_id = ? AND uploaded = 0 ORDER BY key_id LIMIT ?",
            [id, limit], Self.preKey
        )
    }

    func uploadedPreKeyCount() throws -> Int {
        try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM wa_prekeys WHERE session_id = ? AND uploaded = 1"), arguments: [id]) ?? 0
    }

    func nextPreKeyID() throws -> UInt32 {
        let stored = try Int64.fetchOne(db.cachedStatement(sql: "SELECT next_prekey_id FROM wa_device WHERE session_id = ?"), arguments: [id])
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
        try db.run(
            """
            INSERT INTO wa_device (session_id, next_prekey_id) VALUES (?1, ?2)
            ON CONFLICT (session_id) DO UPDATE SET next_prekey_id = ?2
            """,
            [id, Int64(next)]
        )
        return ids
    }

    func putPreKey(id keyID: UInt32, record: [UInt8]) throws {
        // A plain INSERT: an id stored twice is a bug that must fail loudly, never overwrite a key
        // the server may already have handed out.
        try db.run("INSERT INTO wa_prekeys (session_id, key_id, record, uploaded) VALUES (?, ?, ?, 0)", [id, Int64(keyID), Data(record)])
    }

    func markPreKeysUploaded(_ ids: [UInt32]) throws {
        for keyID in ids {
            try db.run("UPDATE wa_prekeys SET uploaded = 1 WHERE session_id = ? AND key_id = ?", [id, Int64(keyID)])
        }
    }

    func removePreKey(id keyID: UInt32) throws {
        try db.run("DELETE FROM wa_prekeys WHERE session_id = ? AND key_id = ?", [id, Int64(keyID)])
    }

    private static func preKey(_ row: Row) throws -> StoredPreKey {
        guard let record: Data = row[1] else { throw StoreError.corruptRow("prekey without a record") }
        return StoredPreKey(id: UInt32(truncatingIfNeeded: row[0] as Int64), record: Array(record), uploaded: row[2] as Bool)
    }

    // MARK: Identities and sessions

    func identity(of address: ProtocolAddressKey) throws -> [UInt8]? {
        try blob("SELECT identity FROM wa_identities WHERE session_id = ? AND user = ? AND device = ?", [id, address.user, address.device])
    }

    func putIdentity(_ key: [UInt8], of address: ProtocolAddressKey) throws {
        try db.run(
            """
            INSERT INTO wa_identities (session_id, user, device, identity) VALUES (?, ?, ?, ?)
            ON CONFLICT (session_id, user, device) DO UPDATE SET identity = excluded.identity
            """,
            [id, address.user, address.device, Data(key)]
        )
    }

    func removeIdentity(of address: ProtocolAddressKey) throws {
        try db.run("DELETE FROM wa_identities WHERE session_id = ? AND user = ? AND device = ?", [id, address.user, address.device])
    }

    func signalSession(with address: ProtocolAddressKey) throws -> [UInt8]? {
        try blob("SELECT record FROM wa_signal_sessions WHERE session_id = ? AND user = ? AND device = ?", [id, address.user, address.device])
    }

    func signalSessionDevices(ofUser user: String) throws -> [Int] {
        try db.rows("SELECT device FROM wa_signal_sessions WHERE session_id = ? AND user = ? ORDER BY device", [id, user]) { $0[0] as Int }
    }

    func putSignalSession(_ record: [UInt8], with address: ProtocolAddressKey) throws {
        try db.run(
            """
            INSERT INTO wa_signal_sessions (session_id, user, device, record) VALUES (?, ?, ?, ?)
            ON CONFLICT (session_id, user, device) DO UPDATE SET record = excluded.record
            """,
            [id, address.user, address.device, Data(record)]
        )
    }

    func removeSignalSession(with address: ProtocolAddressKey) throws {
        try db.run("DELETE FROM wa_signal_sessions WHERE session_id = ? AND user = ? AND device = ?", [id, address.user, address.device])
    }

    func removeAllSignalSessions(ofUser user: String) throws {
        try db.run("DELETE FROM wa_signal_sessions WHERE session_id = ? AND user = ?", [id, user])
    }

    // MARK: Sender keys

    func senderKey(group: String, sender: ProtocolAddressKey) throws -> [UInt8]? {
        try blob(
            "SELECT record FROM wa_sender_keys WHERE session_id = ? AND group_id = ? AND sender_user = ? AND sender_device = ?",
            [id, group, sender.user, sender.device]
        )
    }

    func putSenderKey(_ record: [UInt8], group: String, sender: ProtocolAddressKey) throws {
        try db.run(
            """
            INSERT INTO wa_sender_keys (session_id, group_id, sender_user, sender_device, record) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (session_id, group_id, sender_user, sender_device) DO UPDATE SET record = excluded.record
            """,
            [id, group, sender.user, sender.device, Data(record)]
        )
    }

    func removeSenderKey(group: String, sender: ProtocolAddressKey) throws {
        try db.run(
            "DELETE FROM wa_sender_keys WHERE session_id = ? AND group_id = ? AND sender_user = ? AND sender_device = ?",
            [id, group, sender.user, sender.device]
        )
    }

    // MARK: LID map

    func lid(forPhone phoneUser: String) throws -> String? {
        try String.fetchOne(db.cachedStatement(sql: "SELECT lid FROM wa_lid_map WHERE session_id = ? AND phone = ?"), arguments: [id, phoneUser])
    }

    func phone(forLID lidUser: String) throws -> String? {
        try String.fetchOne(db.cachedStatement(sql: "SELECT phone FROM wa_lid_map WHERE session_id = ? AND lid = ?"), arguments: [id, lidUser])
    }

    func putLIDMapping(lid lidUser: String, phone phoneUser: String) throws {
        try db.run("DELETE FROM wa_lid_map WHERE session_id = ?1 AND (lid = ?2 OR phone = ?3)", [id, lidUser, phoneUser])
        try db.run("INSERT INTO wa_lid_map (session_id, lid, phone) VALUES (?, ?, ?)", [id, lidUser, phoneUser])
    }

    // MARK: Device lists

    func deviceList(ofUser user: String) throws -> StoredDeviceList? {
        try db.rows("SELECT record, fetched_at FROM wa_device_lists WHERE session_id = ? AND user = ?", [id, user]) { row in
            guard let record: Data = row[0] else { throw StoreError.corruptRow("device list without a record") }
            return StoredDeviceList(record: Array(record), fetchedAt: Timestamp(stored: row[1]))
        }.first
    }

    func putDeviceList(_ list: StoredDeviceList, ofUser user: String) throws {
        try db.run(
            """
            INSERT INTO wa_device_lists (session_id, user, record, fetched_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (session_id, user) DO UPDATE SET record = excluded.record, fetched_at = excluded.fetched_at
            """,
            [id, user, Data(list.record), list.fetchedAt.stored]
        )
    }

    func removeDeviceList(ofUser user: String) throws {
        try db.run("DELETE FROM wa_device_lists WHERE session_id = ? AND user = ?", [id, user])
    }

    // MARK: Decrypt buffer

    func bufferedDecryption(hash: [UInt8]) throws -> StoredDecryption? {
        try db.rows("SELECT plaintext, inserted_at FROM wa_decrypt_buffer WHERE session_id = ? AND hash = ?", [id, Data(hash)]) { row in
            StoredDecryption(plaintext: (row[0] as Data?).map { Array($0) }, insertedAt: Timestamp(stored: row[1]))
        }.first
    }

    func putBufferedDecryption(hash: [UInt8], plaintext: [UInt8], serverTimestamp: Timestamp, insertedAt: Timestamp) throws {
        try db.run(
            """
            INSERT INTO wa_decrypt_buffer (session_id, hash, plaintext, server_timestamp, inserted_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (session_id, hash) DO NOTHING
            """,
            [id, Data(hash), Data(plaintext), serverTimestamp.stored, insertedAt.stored]
        )
    }

    func clearBufferedPlaintext(hash: [UInt8]) throws {
        try db.run("UPDATE wa_decrypt_buffer SET plaintext = NULL WHERE session_id = ? AND hash = ?", [id, Data(hash)])
    }

    func removeBufferedDecryptions(insertedBefore time: Timestamp) throws {
        try db.run("DELETE FROM wa_decrypt_buffer WHERE session_id = ? AND inserted_at < ?", [id, time.stored])
    }

    private func blob(_ sql: String, _ arguments: StatementArguments) throws -> [UInt8]? {
        try db.rows(sql, arguments) { row in (row[0] as Data?).map { Array($0) } }.first ?? nil
    }
}
