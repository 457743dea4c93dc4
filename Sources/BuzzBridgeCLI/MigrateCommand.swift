import ArgumentParser
import BuzzBridgeStorage

/// `buzzbridge migrate`: brings the store's schema up to date and exits, for a deployment that
/// migrates before it starts its servers. `serve` applies the same migrations itself at start;
/// none of them drops or rewrites data.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply the schema migrations this build knows to the data folder's database or to --database, then exit."
    )

    @OptionGroup var dataOptions: DataOptions

    func run() async throws {
        try await withStore(dataOptions) { store in
            // Opening the store migrated it; the status read back shows it took.
            let schema = try await store.schemaStatus()
            print("schema: \(schema.applied) of \(schema.known) migrations applied")
            guard schema.applied == schema.known else { throw ExitCode.failure }
        }
    }
}
