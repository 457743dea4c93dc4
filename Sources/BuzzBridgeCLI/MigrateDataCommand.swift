import ArgumentParser
import BuzzBridgeGateway
import BuzzBridgePostgres
import BuzzBridgeStorage
import Foundation

/// `buzzbridge migrate-data --from DIR --to postgres://…`: copies a SQLite deployment into
/// PostgreSQL in one transaction and checks every table's row count before committing.
struct MigrateDataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate-data",
        abstract: "Copy a data folder's SQLite database into PostgreSQL (stop the server first).",
        discussion: """
            Copies sessions, API keys, messages (media facts included), contacts, settings, webhook endpoints, events, \
            deliveries and their attempts, and the live sessions' protocol state, in one transaction, then compares each \
            table's row count with the source before committing. Media files are not copied: they stay in the data folder's \
            media/ folder, so serve with --data pointing at that folder (or a copy of it) and --database.
            """
    )

    @Option(help: "The data folder holding buzzbridge.sqlite (the source; opened and brought up to date, otherwise read only).")
    var from: String

    @Option(help: "postgres://user:password@host:port/database to copy into; its schema is created or brought up to date first.")
    var to: String

    @Flag(help: "Empty the target's BuzzBridge tables first, in the same transaction. Without it, a target holding any row is refused.")
    var replaceExisting = false

    func run() async throws {
        let path = (from as NSString).appendingPathComponent("buzzbridge.sqlite")
        guard FileManager.default.fileExists(atPath: path) else { throw ValidationError("no database in \(from) (buzzbridge.sqlite)") }
        let source = try await DataFolder.openStore(at: from)
        let target: PostgresStore
        do {
            target = try await PostgresStore.open(url: to)
        } catch {
            try? await source.close()
            throw error
        }
        do {
            let started = ContinuousClock.now
            print("table                  sqlite   postgres")
            let copies = try await target.importDeployment(from: source, replacingExisting: replaceExisting) { copy in
                print(copy.table.padding(toLength: 20, withPad: " ", startingAt: 0) + String(format: "%9d  %9d", copy.source, copy.target))
            }
            let rows = copies.reduce(0) { $0 + $1.target }
            let elapsed = started.duration(to: .now)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print(String(format: "copied %d rows in %.1f s (%.0f rows/s); every count matches", rows, seconds, Double(rows) / max(seconds, 0.001)))
            print("media files stay in \((from as NSString).appendingPathComponent("media")): serve with --data \(from) --database <url>")
        } catch {
            try? await source.close()
            try? await target.close()
            if let refused = error as? ImportError { throw ValidationError("nothing was copied: \(refused)") }
            throw error
        }
        try await source.close()
        try await target.close()
    }
}
