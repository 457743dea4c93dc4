import BuzzBridgeCore
import BuzzBridgePostgres
import BuzzBridgeStorage
import TestSupport
import Testing

/// The stores the contract tests run on: SQLite in a temporary file, and PostgreSQL in a new
/// database of the test process's own server (``PostgresTestServer``).
enum StoreBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    var testDescription: String { rawValue }
}

/// A fresh, empty store of `backend`, closed afterwards.
func withStore(_ backend: StoreBackend, _ body: (any GatewayStore & WebhookStore) async throws -> Void) async throws {
    switch backend {
    case .sqlite:
        try await withTemporaryStore { store, _ in try await body(store) }
    case .postgres:
        let store = try await PostgresStore.open(url: try await PostgresTestServer.shared.newDatabaseURL())
        do {
            try await body(store)
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
    }
}
