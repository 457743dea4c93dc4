import ArgumentParser
import BuzzBridgeCore
import BuzzBridgeGateway
import BuzzBridgePostgres
import BuzzBridgeStorage
import Foundation

@main
struct BuzzBridgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "buzzbridge",
        abstract: "BuzzBridge: a self-hosted WhatsApp HTTP gateway.",
        discussion: "Run `buzzbridge serve` to start the service; the other commands manage sessions and API keys and work while it runs.",
        subcommands: [
            ServeCommand.self, SessionsCommand.self, KeysCommand.self, WebhooksCommand.self, AdminCommand.self, MigrateCommand.self,
            MigrateDataCommand.self,
        ],
        defaultSubcommand: nil
    )

    static func main() async {
        EventLoopExecutor.install()
        await main(nil)
    }
}

/// Options every command shares. Each flag can also come from its environment variable.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: "Folder holding the database (env BUZZBRIDGE_DATA).")
    var data: String = ProcessInfo.processInfo.environment["BUZZBRIDGE_DATA"] ?? "./data"

    @Option(
        help:
            "Keep everything in PostgreSQL instead of the data folder: postgres://user:password@host:port/database[?sslmode=disable|prefer|require] (env BUZZBRIDGE_DATABASE_URL)."
    )
    var database: String?

    /// The flag, or the environment when the flag is left out.
    var databaseURL: String? { database ?? ProcessInfo.processInfo.environment["BUZZBRIDGE_DATABASE_URL"] }

    /// PostgreSQL when a database URL is given, else SQLite in the data folder.
    func openStore() async throws -> any GatewayStore & WebhookStore {
        if let databaseURL { return try await PostgresStore.open(url: databaseURL) }
        return try await DataFolder.openStore(at: data)
    }
}

/// Runs `body` with the store open and closes it afterwards, even on error.
func withStore<T>(_ options: DataOptions, _ body: (any GatewayStore & WebhookStore) async throws -> T) async throws -> T {
    let store = try await options.openStore()
    do {
        let result = try await body(store)
        try await store.close()
        return result
    } catch {
        try? await store.close()
        throw error
    }
}
