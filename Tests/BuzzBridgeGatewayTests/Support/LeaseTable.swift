import Foundation
import TestSupport

/// `session_leases` as psql reads it, by the database's clock, for tests of several nodes.
enum LeaseTable {
    private static func psql(_ database: String, _ sql: String) async throws -> String {
        let result = try await ChildProcess.run(URL(fileURLWithPath: "/usr/bin/psql"), arguments: [database, "-At", "-F", " ", "-c", sql])
        guard result.status == 0 else { throw TestFailure("psql failed: \(result.text)") }
        return result.text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static let now = "(extract(epoch FROM clock_timestamp()) * 1000)::BIGINT"

    /// Live grants: session → owner.
    static func owners(_ database: String) async throws -> [String: String] {
        let text = try await psql(
            database, "SELECT session_id, owner FROM session_leases WHERE owner IS NOT NULL AND expires_at > \(now)")
        var owners: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2 { owners[String(parts[0])] = String(parts[1]) }
        }
        return owners
    }

    /// The earliest expiry among `node`'s grants and the database's clock, in milliseconds.
    static func earliestExpiry(of node: String, _ database: String) async throws -> (expiry: Int64, now: Int64) {
        let text = try await psql(database, "SELECT min(expires_at), \(now) FROM session_leases WHERE owner = '\(node)'")
        let parts = text.split(separator: " ")
        guard parts.count == 2, let expiry = Int64(parts[0]), let now = Int64(parts[1]) else { throw TestFailure("psql: \(text)") }
        return (expiry, now)
    }

    /// How many leases name `node` as their owner, expired or not (a released lease names none).
    static func named(_ node: String, _ database: String) async throws -> Int {
        let text = try await psql(database, "SELECT count(*) FROM session_leases WHERE owner = '\(node)'")
        guard let count = Int(text) else { throw TestFailure("psql: \(text)") }
        return count
    }

    /// The database's clock, in milliseconds.
    static func databaseNow(_ database: String) async throws -> Int64 {
        let text = try await psql(database, "SELECT \(now)")
        guard let now = Int64(text) else { throw TestFailure("psql: \(text)") }
        return now
    }
}
