import BuzzBridgeCore
import GRDB

/// ``ProtocolStateStore`` in the gateway's SQLite file (the `wa_` tables of ``Schema``).
/// Transactions go through the group-committed writer like every other write.
extension SQLiteStore: ProtocolStateStore {
    public func readProtocolState<T: Sendable>(
        session: SessionID, _ body: @escaping @Sendable (any ProtocolStateReader) throws -> T
    ) async throws -> T {
        // Several statements, so in a read transaction of their own: they all see one snapshot.
        try database.read { db in
            var value: T?
            try db.inTransaction(.deferred) {
                value = try body(SQLiteProtocolState(db: db, session: session))
                return .commit
            }
            guard let value else { throw StoreError.corruptRow("a protocol state read returned nothing") }
            return value
        }
    }

    public func withTransaction<T: Sendable>(
        session: SessionID, _ body: @escaping @Sendable (any ProtocolStateTransaction) throws -> T
    ) async throws -> T {
        try await database.write { db in try body(SQLiteProtocolState(db: db, session: session)) }
    }

    public func wipeProtocolState(session: SessionID) async throws {
        try await database.write { db in
            for table in SQLiteProtocolState.tables {
                try db.run("DELETE FROM \(table) WHERE session_id = ?", [session.rawValue])
            }
        }
    }
}
