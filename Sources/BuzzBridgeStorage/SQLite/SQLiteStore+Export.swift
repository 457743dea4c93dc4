import Foundation
import GRDB

/// A value as SQLite holds it, for copying a deployment into another store
/// (`buzzbridge migrate-data`). Text is its UTF-8 bytes, all of them (see ``IntactText``).
public enum StoredValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text([UInt8])
    case blob([UInt8])
}

/// Where the next page of ``SQLiteStore/exportRows(of:columns:after:limit:)`` starts: the
/// primary key of the last row read.
public struct ExportPosition: Sendable {
    fileprivate let key: [DatabaseValue]
}

/// Reading every row of the gateway's tables, page by page in primary-key order, for
/// `buzzbridge migrate-data`. Run it on a data folder no server is using: pages are separate
/// reads, so rows written meanwhile may or may not be in the copy.
extension SQLiteStore {
    /// The tables holding a deployment's data, each after the tables it refers to. SQLite's
    /// `message_counts` is not among them: triggers derive it from `messages`.
    public static let exportedTables = [
        "sessions", "api_keys", "messages", "contacts", "events", "settings", "webhook_endpoints", "webhook_deliveries", "webhook_attempts",
        "wa_device", "wa_prekeys", "wa_identities", "wa_signal_sessions", "wa_sender_keys", "wa_lid_map", "wa_device_lists", "wa_decrypt_buffer",
    ]
    /// Tables SQLite keeps that a copy leaves out, because the target derives them.
    public static let derivedTables: Set<String> = ["message_counts"]

    /// Every table of the file (SQLite's own left out).
    public func exportTableNames() throws -> [String] {
        try database.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        }
    }

    /// `table`'s columns in their order.
    public func exportColumns(of table: String) throws -> [String] {
        let table = try Self.known(table)
        return try database.read { db in try Row.fetchAll(db, sql: "PRAGMA table_info(\(table))").map { $0["name"] as String } }
    }

    public func exportCount(of table: String) throws -> Int {
        let table = try Self.known(table)
        return try database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? 0 }
    }

    /// Up to `limit` rows of `table` after `position` (from the start when nil), `columns` of
    /// each, in primary-key order; the position is nil once the table is read to its end.
    public func exportRows(of table: String, columns: [String], after position: ExportPosition?, limit: Int) throws -> (
        rows: [[StoredValue]], next: ExportPosition?
    ) {
        let table = try Self.known(table)
        return try database.read { db in
            let known = Set(try Row.fetchAll(db, sql: "PRAGMA table_info(\(table))").map { $0["name"] as String })
            guard columns.allSatisfy(known.contains) else { throw StoreError.corruptRow("unknown columns of \(table): \(columns)") }
            let key = try Row.fetchAll(db, sql: "PRAGMA table_info(\(table))").filter { ($0["pk"] as Int) > 0 }
                .sorted { ($0["pk"] as Int) < ($1["pk"] as Int) }.map { $0["name"] as String }
            let order = key.isEmpty ? ["rowid"] : key
            let quoted = order.map { "\"\($0)\"" }.joined(separator: ", ")
            var sql =
                "SELECT \(order.map { "\"\($0)\"" }.joined(separator: ", ")), \(columns.map { "\"\($0)\"" }.joined(separator: ", ")) FROM \(table)"
            var arguments: [DatabaseValue] = []
            if let position {
                sql += " WHERE (\(quoted)) > (\(Array(repeating: "?", count: order.count).joined(separator: ", ")))"
                arguments = position.key
            }
            sql += " ORDER BY \(quoted) LIMIT \(limit)"
            var rows: [[StoredValue]] = []
            var last: [DatabaseValue] = []
            let cursor = try Row.fetchCursor(db, sql: sql, arguments: StatementArguments(arguments))
            while let row = try cursor.next() {
                last = (0..<order.count).map { row[$0] as DatabaseValue }
                rows.append(
                    (0..<columns.count).map { index in
                        let column = order.count + index
                        switch (row[column] as DatabaseValue).storage {
                        case .null: return .null
                        case .int64(let value): return .integer(value)
                        case .double(let value): return .real(value)
                        // Read again as bytes: text through a C string would end at its first U+0000.
                        case .string: return .text(Array((row[column] as Data?) ?? Data()))
                        case .blob(let value): return .blob(Array(value))
                        }
                    })
            }
            return (rows, rows.count < limit ? nil : ExportPosition(key: last))
        }
    }

    private static func known(_ table: String) throws -> String {
        guard exportedTables.contains(table) || derivedTables.contains(table) else {
            throw StoreError.corruptRow("not a table of the gateway: \(table)")
        }
        return table
    }
}
