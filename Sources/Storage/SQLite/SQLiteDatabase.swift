import Logging
import SQLiteNIO
import Synchronization

/// One SQLite file in WAL mode: a single writer connection, whose transactions are serialised,
/// and a few reader connections that read concurrently with it.
final class SQLiteDatabase: Sendable {
    private let writer: SQLiteConnection
    private let readers: [SQLiteConnection]
    private let nextReader = Atomic<Int>(0)
    private let writeLock = AsyncLock()

    static func open(path: String, readerCount: Int, logger: Logger) async throws -> SQLiteDatabase {
        let writer = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        // WAL lets readers and the CLI work while the server writes; NORMAL sync is durable across a
        // process crash (kill -9), which is what WAL guarantees without an fsync per commit.
        for pragma in ["PRAGMA busy_timeout = 10000", "PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL", "PRAGMA foreign_keys = ON"] {
            _ = try await writer.query(pragma, [])
        }
        var readers: [SQLiteConnection] = []
        for _ in 0..<readerCount {
            let reader = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
            _ = try await reader.query("PRAGMA busy_timeout = 10000", [])
            readers.append(reader)
        }
        return SQLiteDatabase(writer: writer, readers: readers)
    }

    private init(writer: SQLiteConnection, readers: [SQLiteConnection]) {
        self.writer = writer
        self.readers = readers
    }

    /// Runs a read on the next reader connection (or the writer when there are none).
    func read(_ sql: String, _ binds: [SQLiteData] = []) async throws -> [SQLiteRow] {
        guard !readers.isEmpty else { return try await writer.query(sql, binds) }
        let index = nextReader.add(1, ordering: .relaxed).oldValue % readers.count
        return try await readers[index].query(sql, binds)
    }

    /// Runs `body` inside one write transaction; nothing else writes until it commits or rolls back.
    func transaction<T: Sendable>(_ body: @Sendable (WriteTransaction) async throws -> T) async throws -> T {
        try await writeLock.withLock {
            _ = try await writer.query("BEGIN IMMEDIATE", [])
            do {
                let result = try await body(WriteTransaction(connection: writer))
                _ = try await writer.query("COMMIT", [])
                return result
            } catch {
                _ = try? await writer.query("ROLLBACK", [])
                throw error
            }
        }
    }

    /// A single statement outside any explicit transaction (SQLite makes it atomic on its own).
    func write(_ sql: String, _ binds: [SQLiteData] = []) async throws -> [SQLiteRow] {
        try await writeLock.withLock { try await writer.query(sql, binds) }
    }

    func close() async throws {
        for reader in readers { try await reader.close() }
        try await writer.close()
    }
}

/// The statements of one open transaction.
struct WriteTransaction: Sendable {
    let connection: SQLiteConnection

    @discardableResult
    func execute(_ sql: String, _ binds: [SQLiteData] = []) async throws -> [SQLiteRow] {
        try await connection.query(sql, binds)
    }
}

/// A FIFO lock for async code: waiters resume in arrival order, holders may suspend.
final class AsyncLock: Sendable {
    private struct State {
        var locked = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func withLock<T>(_ body: () async throws -> T) async throws -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { state in
                if state.locked {
                    state.waiters.append(continuation)
                    return false
                }
                state.locked = true
                return true
            }
            if acquired { continuation.resume() }
        }
    }

    private func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiters.isEmpty else {
                state.locked = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}
