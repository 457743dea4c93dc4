import GRDB
import Synchronization

/// One SQLite file in WAL mode (GRDB's `DatabasePool`): concurrent readers, and one writer whose
/// callers are committed in groups.
///
/// Group commit is what lets many concurrent writers share the single SQLite writer: writes that
/// arrive while a transaction runs wait for it, then all of them run in the next transaction, each
/// in its own savepoint so that one failing write never undoes another. Every caller resumes only
/// after the transaction holding its write has committed, so nothing is acknowledged before it is
/// stored.
final class SQLiteDatabase: Sendable {
    private let pool: DatabasePool
    private let pending = Mutex(PendingWrites())
    /// Enough to fill a transaction without letting the first caller wait on a thousand others.
    private let maximumBatch = 128

    static func open(path: String, readerCount: Int) throws -> SQLiteDatabase {
        var configuration = Configuration()
        // Other processes (the CLI) write to the same file; wait for them rather than fail.
        configuration.busyMode = .timeout(10)
        configuration.maximumReaderCount = max(readerCount, 1)
        configuration.label = "buzzbridge"
        configuration.prepareDatabase { db in
            // NORMAL in WAL mode survives a process crash (kill -9) without an fsync per commit.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        return SQLiteDatabase(pool: try DatabasePool(path: path, configuration: configuration))
    }

    private init(pool: DatabasePool) {
        self.pool = pool
    }

    /// Runs a read on a reader connection, on the caller's thread, without a transaction around
    /// it: what must agree (a page and its total) is read in one statement, which SQLite keeps
    /// consistent on its own.
    ///
    /// Deliberately synchronous: a read of the API's indexes takes tens of microseconds of CPU,
    /// less than handing it to another thread and back (which was most of a read's cost when it
    /// went through GRDB's async API). Writes, which wait for a group commit, do suspend.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.unsafeRead(body)
    }

    /// Runs `body` in the next group-committed write transaction and returns once that transaction
    /// has committed. If `body` throws, only its own changes are rolled back.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let write = PendingWrite(
                run: { db in
                    do {
                        let value = try db.inSavepointReturning { try body(db) }
                        return .init(committed: { continuation.resume(returning: value) }, rolledBack: { continuation.resume(throwing: $0) })
                    } catch {
                        // Its own changes are already undone; the caller learns why whatever the commit does.
                        return .init(committed: { continuation.resume(throwing: error) }, rolledBack: { _ in continuation.resume(throwing: error) })
                    }
                },
                refuse: { continuation.resume(throwing: $0) }
            )
            let startsDrain = pending.withLock { state in
                state.writes.append(write)
                guard !state.draining else { return false }
                state.draining = true
                return true
            }
            if startsDrain { pool.asyncWriteWithoutTransaction { db in self.drain(db) } }
        }
    }

    /// Commits batches until no write is waiting. Runs on the pool's writer queue.
    private func drain(_ db: Database) {
        while true {
            let batch = pending.withLock { state -> [PendingWrite] in
                guard !state.writes.isEmpty else {
                    state.draining = false
                    return []
                }
                let count = min(state.writes.count, maximumBatch)
                let batch = Array(state.writes.prefix(count))
                state.writes.removeFirst(count)
                return batch
            }
            guard !batch.isEmpty else { return }
            var answers: [PendingWrite.Answer] = []
            answers.reserveCapacity(batch.count)
            do {
                try db.beginTransaction(.immediate)
                for write in batch {
                    answers.append(write.run(db))
                    // Some errors make SQLite roll back the whole transaction, not just the savepoint.
                    guard db.isInsideTransaction else { throw StoreError.transactionAborted }
                }
                try db.commit()
                for answer in answers { answer.committed() }
            } catch {
                try? db.rollback()
                for answer in answers { answer.rolledBack(error) }
                for write in batch.dropFirst(answers.count) { write.refuse(error) }
            }
        }
    }

    func close() throws {
        try pool.close()
    }
}

private struct PendingWrites {
    var writes: [PendingWrite] = []
    var draining = false
}

/// A caller's write, waiting for the next group transaction.
private struct PendingWrite: Sendable {
    /// How the caller is answered once its transaction commits or rolls back.
    struct Answer {
        let committed: () -> Void
        let rolledBack: (any Error) -> Void
    }

    /// Runs the caller's body in its own savepoint.
    let run: @Sendable (Database) -> Answer
    /// Answers a caller whose body never ran (the transaction could not begin).
    let refuse: @Sendable (any Error) -> Void
}

extension Database {
    /// `inSavepoint` for a body that returns a value.
    func inSavepointReturning<T>(_ body: () throws -> T) throws -> T {
        var result: T?
        try inSavepoint {
            result = try body()
            return .commit
        }
        guard let result else { preconditionFailure("savepoint committed without a result") }
        return result
    }
}
