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

/// A fresh, empty store of `backend` with its protocol state, closed afterwards. `body` also gets
/// `reopen`, which closes the store and opens the same data again, as a restart does.
func withProtocolStore(
    _ backend: StoreBackend,
    _ body: (any GatewayStore & ProtocolStateStore, @escaping () async throws -> any GatewayStore & ProtocolStateStore) async throws -> Void
) async throws {
    let opened = OpenedStore()
    switch backend {
    case .sqlite:
        try await withTemporaryStore { store, path in
            await opened.set(store)
            try await body(store) { try await opened.replace { try await SQLiteStore.open(path: path) } }
            try await opened.close()
        }
    case .postgres:
        let url = try await PostgresTestServer.shared.newDatabaseURL()
        let store = try await PostgresStore.open(url: url)
        await opened.set(store)
        do {
            try await body(store) { try await opened.replace { try await PostgresStore.open(url: url) } }
        } catch {
            try? await opened.close()
            throw error
        }
        try await opened.close()
    }
}

/// The store a test has open now, so that a reopen closes the one before.
private actor OpenedStore {
    private var store: (any GatewayStore & ProtocolStateStore)?

    func set(_ store: any GatewayStore & ProtocolStateStore) { self.store = store }

    func replace(_ open: @Sendable () async throws -> any GatewayStore & ProtocolStateStore) async throws -> any GatewayStore & ProtocolStateStore {
        try await store?.close()
        store = nil
        let new = try await open()
        store = new
        return new
    }

    func close() async throws {
        try await store?.close()
        store = nil
    }
}
