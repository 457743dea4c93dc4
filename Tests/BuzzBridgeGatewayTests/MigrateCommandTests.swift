import Foundation
import TestSupport
import Testing

/// `buzzbridge migrate` on the data folder's SQLite and on PostgreSQL.
@Suite("buzzbridge migrate")
struct MigrateCommandTests {
    /// `n` in `schema: n of n migrations applied`, when both numbers agree.
    private func appliedMigrations(_ output: String) -> Int? {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("schema: ") }) else { return nil }
        let words = line.split(separator: " ")
        guard words.count >= 4, let applied = Int(words[1]), Int(words[3]) == applied, applied > 0 else { return nil }
        return applied
    }

    @Test func migrateBringsTheDataFolderAndPostgreSQLUpToDateAndCanRunAgain() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-migrate-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        let sqlite = try await BuzzBridgeExecutable.run(["migrate", "--data", data])
        #expect(sqlite.status == 0, "\(sqlite.output)")
        #expect(appliedMigrations(sqlite.output) != nil, "\(sqlite.output)")
        #expect(FileManager.default.fileExists(atPath: data + "/buzzbridge.sqlite"))
        #expect(try await BuzzBridgeExecutable.run(["migrate", "--data", data]).output == sqlite.output, "a second run changes nothing")

        let database = try await PostgresTestServer.shared.newDatabaseURL()
        let elsewhere = data + "/unused"
        let postgres = try await BuzzBridgeExecutable.run(["migrate", "--data", elsewhere, "--database", database])
        #expect(postgres.status == 0, "\(postgres.output)")
        #expect(appliedMigrations(postgres.output) != nil, "\(postgres.output)")
        #expect(!FileManager.default.fileExists(atPath: elsewhere), "PostgreSQL needs no data folder")
        // The migrated database serves the other commands.
        let sessions = try await BuzzBridgeExecutable.run(["sessions", "create", "--database", database, "--name", "Migrated"])
        #expect(sessions.status == 0, "\(sessions.output)")
        let listed = try await BuzzBridgeExecutable.run(["sessions", "list", "--database", database])
        #expect(listed.output.contains("Migrated"), "\(listed.output)")
        #expect(try await BuzzBridgeExecutable.run(["migrate", "--database", database]).output == postgres.output, "a second run changes nothing")
    }
}
