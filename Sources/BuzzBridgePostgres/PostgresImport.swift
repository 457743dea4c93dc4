import BuzzBridgeStorage
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// One table of a copy: its rows in the source and, after the copy, in PostgreSQL.
public struct TableCopy: Sendable, Equatable {
    public var table: String
    public var source: Int
    public var target: Int
}

/// Why a copy into PostgreSQL was refused; nothing of it was kept.
public enum ImportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The target holds data already (these tables have rows).
    case targetNotEmpty([String])
    /// The source has a table this build does not know how to copy.
    case unknownTable(String)
    /// The source has a column the target lacks: copying would lose it.
    case unknownColumn(table: String, column: String)
    /// A value the target's column cannot hold.
    case unconvertible(table: String, column: String, reason: String)
    /// The counts after the copy differ from the source's.
    case countsDiffer([TableCopy])

    public var description: String {
        switch self {
        case .targetNotEmpty(let tables): "the target database is not empty (rows in \(tables.joined(separator: ", ")))"
        case .unknownTable(let table): "the data folder has a table this build cannot copy: \(table)"
        case .unknownColumn(let table, let column): "the target has no column \(table).\(column)"
        case .unconvertible(let table, let column, let reason): "\(table).\(column): \(reason)"
        case .countsDiffer(let copies):
            "row counts differ after the copy: "
                + copies.filter { $0.source != $0.target }.map { "\($0.table) \($0.source) → \($0.target)" }.joined(separator: ", ")
        }
    }
}

/// Copying a SQLite deployment into this PostgreSQL database (`buzzbridge migrate-data`): every
/// table of ``SQLiteStore/exportedTables``, in one transaction, so that a failure or a crash
/// leaves the target as it was. Values keep their meaning: SQLite's text becomes `BYTEA` where
/// PostgreSQL keeps typed text as bytes, integers become booleans where PostgreSQL has them, and
/// the ids of messages and events stay what they were (their sequences continue after them).
extension PostgresStore {
    /// Rows per `INSERT`, below PostgreSQL's limit of 65,535 parameters for the widest table.
    static let importBatch = 500

    public func importDeployment(
        from source: SQLiteStore, replacingExisting: Bool, progress: @escaping @Sendable (TableCopy) -> Void = { _ in }
    ) async throws -> [TableCopy] {
        let tables = SQLiteStore.exportedTables
        for table in try source.exportTableNames() where !tables.contains(table) && !SQLiteStore.derivedTables.contains(table) {
            throw ImportError.unknownTable(table)
        }
        let logger = logger
        return try await client.withTransaction(logger: logger) { connection in
            let quotedTables = tables.map { "\"\($0)\"" }.joined(separator: ", ")
            if replacingExisting {
                try await connection.query(PostgresQuery(unsafeSQL: "TRUNCATE \(quotedTables) RESTART IDENTITY CASCADE"), logger: logger)
            } else {
                var filled: [String] = []
                for table in tables {
                    if try await Self.count(table, on: connection, logger: logger, existsOnly: true) > 0 { filled.append(table) }
                }
                guard filled.isEmpty else { throw ImportError.targetNotEmpty(filled) }
            }
            var copies: [TableCopy] = []
            for table in tables {
                try await Self.copy(table, from: source, on: connection, logger: logger)
                let copy = TableCopy(
                    table: table, source: try source.exportCount(of: table), target: try await Self.count(table, on: connection, logger: logger))
                progress(copy)
                copies.append(copy)
            }
            guard copies.allSatisfy({ $0.source == $0.target }) else { throw ImportError.countsDiffer(copies) }
            return copies
        }
    }

    private static func count(_ table: String, on connection: PostgresConnection, logger: Logger, existsOnly: Bool = false) async throws -> Int {
        let sql = existsOnly ? "SELECT COUNT(*) FROM (SELECT 1 FROM \"\(table)\" LIMIT 1) AS probe" : "SELECT COUNT(*) FROM \"\(table)\""
        for try await count in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(Int64.self) { return Int(count) }
        return 0
    }

    /// A column of the target: its type, and whether PostgreSQL generates it (`messages.seq`).
    private struct TargetColumn {
        var type: String
        var generated: Bool
    }

    private static func copy(_ table: String, from source: SQLiteStore, on connection: PostgresConnection, logger: Logger) async throws {
        var target: [String: TargetColumn] = [:]
        let described = try await connection.query(
            """
            SELECT column_name::text, data_type::text, is_identity::text FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name::text = \(table)
            """, logger: logger)
        for try await (name, type, identity) in described.decode((String, String, String).self) {
            target[name] = TargetColumn(type: type, generated: identity == "YES")
        }
        let columns = try source.exportColumns(of: table)
        for column in columns where target[column] == nil { throw ImportError.unknownColumn(table: table, column: column) }
        let types = columns.map { target[$0]!.type }
        let generated = columns.filter { target[$0]!.generated }
        let batch = min(importBatch, 60_000 / max(columns.count, 1))
        let head =
            "INSERT INTO \"\(table)\" (\(columns.map { "\"\($0)\"" }.joined(separator: ", ")))"
            + (generated.isEmpty ? "" : " OVERRIDING SYSTEM VALUE") + " VALUES "
        var position: ExportPosition?
        repeat {
            let page = try source.exportRows(of: table, columns: columns, after: position, limit: batch)
            position = page.next
            guard !page.rows.isEmpty else { break }
            var bindings = PostgresBindings(capacity: page.rows.count * columns.count)
            var tuples: [String] = []
            tuples.reserveCapacity(page.rows.count)
            for row in page.rows {
                var placeholders: [String] = []
                for (index, value) in row.enumerated() {
                    try bind(value, as: types[index], into: &bindings, table: table, column: columns[index])
                    placeholders.append("$\(bindings.count)")
                }
                tuples.append("(" + placeholders.joined(separator: ", ") + ")")
            }
            try await connection.query(PostgresQuery(unsafeSQL: head + tuples.joined(separator: ", "), binds: bindings), logger: logger)
        } while position != nil
        // New rows continue after the copied ids.
        for column in generated {
            try await connection.query(
                PostgresQuery(
                    unsafeSQL:
                        "SELECT setval(pg_get_serial_sequence('\(table)', '\(column)'), COALESCE((SELECT MAX(\"\(column)\") FROM \"\(table)\"), 0) + 1, false)"
                ), logger: logger)
        }
    }

    /// Binds `value` for a column of PostgreSQL type `type`.
    private static func bind(_ value: StoredValue, as type: String, into bindings: inout PostgresBindings, table: String, column: String) throws {
        func refuse(_ reason: String) -> ImportError { .unconvertible(table: table, column: column, reason: reason) }
        switch (value, type) {
        case (.null, _):
            bindings.appendNull()
        case (.text(let bytes), "bytea"), (.blob(let bytes), "bytea"):
            bindings.append(Bytea(bytes))
        case (.integer(let number), "bigint"), (.integer(let number), "integer"):
            bindings.append(number)
        case (.integer(let number), "boolean"):
            bindings.append(number != 0)
        case (.real(let number), "double precision"):
            bindings.append(number)
        case (.text(let bytes), "text"), (.blob(let bytes), "text"):
            guard let text = String(validating: bytes, as: UTF8.self), !bytes.contains(0) else { throw refuse("not text PostgreSQL can hold") }
            bindings.append(text)
        default:
            throw refuse("a \(value) for a \(type) column")
        }
    }
}
