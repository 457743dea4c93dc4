import Dispatch
import GRDB
import GRDBSQLite
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One SQLite file in WAL mode: read-only connections that reads take without waiting (GRDB's
/// `DatabasePool` when all are in use), and the pool's one writer, whose callers are committed in
/// groups.
///
/// Group commit is what lets many concurrent writers share the single SQLite writer: writes that
/// arrive while a transaction runs wait for it, then all of them run in the next transaction (one
/// failing write never undoes another, see ``drain(_:)``). Every caller resumes only after the
/// transaction holding its write has committed, so nothing is acknowledged before it is stored.
final class SQLiteDatabase: Sendable {
    private let pool: DatabasePool
    /// Read-only connections a read takes without waiting (see ``read(_:)``).
    private let readers: [ReaderSlot]
    private let checkpointer: Checkpointer
    private let pending = Mutex(PendingWrites())
    /// Enough to fill a transaction without letting the first caller wait on a thousand others.
    private let maximumBatch = 128
    /// Other processes (the CLI) write to the same file; every connection waits this long for them.
    private static let busyTimeoutMilliseconds: Int32 = 10_000
    /// How long the writer waits for readers when it starts the WAL over: reads hold their
    /// snapshot for microseconds, so this is only a bound.
    private static let restartPatienceMilliseconds: Int32 = 20

    /// A new database file is created readable by its owner only (SQLite gives the WAL and shared
    /// memory files the same mode): it holds webhook secrets, which signing needs in plain text.
    static func open(path: String, readerCount: Int, walRestartPages: Int) throws -> SQLiteDatabase {
        createOwnerOnlyFileIfMissing(path)
        let readerCount = max(readerCount, 1)
        var pooled = connectionConfiguration()
        pooled.maximumReaderCount = readerCount
        pooled.label = "buzzbridge"
        let pool = try DatabasePool(path: path, configuration: pooled)
        var checkpointing = Configuration()
        checkpointing.busyMode = .timeout(Double(busyTimeoutMilliseconds) / 1000)
        checkpointing.label = "buzzbridge.checkpoint"
        var reading = connectionConfiguration()
        reading.readonly = true
        reading.label = "buzzbridge.reader"
        return SQLiteDatabase(
            pool: pool, readers: (0..<readerCount).map { _ in ReaderSlot(path: path, configuration: reading) },
            checkpointer: Checkpointer(queue: try DatabaseQueue(path: path, configuration: checkpointing), restartPages: walRestartPages)
        )
    }

    /// The pool's connections and the readers'.
    private static func connectionConfiguration() -> Configuration {
        var configuration = Configuration()
        configuration.busyMode = .timeout(Double(busyTimeoutMilliseconds) / 1000)
        configuration.prepareDatabase { db in
            // NORMAL in WAL mode survives a process crash (kill -9) without an fsync per commit.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // Pages are read through a memory map rather than a read() and a copy each.
            try db.execute(sql: "PRAGMA mmap_size = 268435456")
            // Checkpoints are the ``Checkpointer``'s: done by a commit, their fsync held up every writer.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
        }
        return configuration
    }

    private init(pool: DatabasePool, readers: [ReaderSlot], checkpointer: Checkpointer) {
        self.pool = pool
        self.readers = readers
        self.checkpointer = checkpointer
    }

    /// Runs a read on a reader connection, on the caller's thread, without a transaction around
    /// it: what must agree (a page and its total) is read in one statement, which SQLite keeps
    /// consistent on its own.
    ///
    /// Deliberately synchronous: a read of the API's indexes takes tens of microseconds of CPU,
    /// less than handing it to another thread and back (which was most of a read's cost when it
    /// went through GRDB's async API). Writes, which wait for a group commit, do suspend.
    ///
    /// The read takes the first free connection of ``readers`` and never waits for one: GRDB's
    /// own reader pool guards its connections with locks that the event loops queue on under load,
    /// a sleep and a wake-up every time (docs/benchmarks.md).
    /// Only when every connection is in use does the read go to that pool.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        for reader in readers {
            if let value = try reader.readIfFree(body) { return value }
        }
        return try pool.unsafeRead(body)
    }

    /// Runs `body` in the next group-committed write transaction and returns once that transaction
    /// has committed. If `body` throws, the caller gets its error and no other write is affected.
    ///
    /// `body` may run more than once (see ``drain(_:)``), so it must only touch the database.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let write = PendingWrite(
                run: { db in
                    let value = try body(db)
                    return { continuation.resume(returning: value) }
                },
                fail: { continuation.resume(throwing: $0) }
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
    ///
    /// A batch runs optimistically as one transaction. Should any write in it throw (a constraint,
    /// a full disk), the whole transaction is rolled back and each write of the batch runs again in
    /// a transaction of its own, so only the faulty one fails. Failures are rare, so this is cheaper
    /// than a savepoint around every write.
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
            restartWALIfAsked(db)
            defer { checkpointer.noteCommit() }
            do {
                let answers = try commit(batch, in: db)
                for answer in answers { answer() }
            } catch {
                guard batch.count > 1 else {
                    batch[0].fail(error)
                    continue
                }
                for write in batch {
                    do {
                        try commit([write], in: db)[0]()
                    } catch {
                        write.fail(error)
                    }
                }
            }
        }
    }

    /// Only a writer can start the WAL over, and only once every frame in it is in the database
    /// file and no reader still reads it. Under a steady stream of writes and reads that moment
    /// never comes by itself (the checkpoint never catches up with the frames written meanwhile,
    /// and some reader always holds an older snapshot), and the WAL grows without end (hundreds
    /// of megabytes in seconds of sends), slowing every read (the WAL index is searched per page) and every
    /// write (fresh file blocks). Between two transactions no frame is being added, so a RESTART
    /// checkpoint here copies what the ``Checkpointer`` left, waits for the readers of the moment
    /// (new ones read the database file) and starts the WAL over. Writes wait meanwhile, which is
    /// why it happens only when the WAL is long.
    private func restartWALIfAsked(_ db: Database) {
        guard checkpointer.takeRestartRequest(), let connection = db.sqliteConnection else { return }
        sqlite3_busy_timeout(connection, Self.restartPatienceMilliseconds)
        defer { sqlite3_busy_timeout(connection, Self.busyTimeoutMilliseconds) }
        // Busy (a reader held on): the WAL stays as it is, and the next checkpoint asks again.
        _ = try? db.execute(sql: "PRAGMA wal_checkpoint(RESTART)")
    }

    /// Runs `writes` in one transaction; their answers are to be given once this returns.
    private func commit(_ writes: [PendingWrite], in db: Database) throws -> [() -> Void] {
        try db.beginTransaction(.immediate)
        do {
            var answers: [() -> Void] = []
            answers.reserveCapacity(writes.count)
            for write in writes { answers.append(try write.run(db)) }
            try db.commit()
            return answers
        } catch {
            try? db.rollback()
            throw error
        }
    }

    func close() throws {
        try checkpointer.close()
        for reader in readers { try reader.close() }
        try pool.close()
    }
}

/// One read-only connection, opened on first use, that one read at a time may take.
private final class ReaderSlot: Sendable {
    private enum State {
        case unopened
        case open(DatabaseQueue)
        case closed
    }

    private let path: String
    private let configuration: Configuration
    /// Taken by the read that uses the connection. A flag rather than `Mutex.withLockIfAvailable`,
    /// whose failed attempts are a system call each on Linux (FUTEX_TRYLOCK_PI, and another to
    /// unlock after one), and under load the event loops collide on the first slot all the time.
    private let taken = Atomic<Bool>(false)
    /// Only the holder of `taken` uses it, and ``close()``, so it is hardly ever contended.
    private let state = Mutex(State.unopened)

    init(path: String, configuration: Configuration) {
        self.path = path
        self.configuration = configuration
    }

    /// Runs `body` on this connection, or returns nil at once if another read holds it (or it is
    /// closed: the caller then reads from the pool, which reports the closed store).
    func readIfFree<T>(_ body: (Database) throws -> T) throws -> T? {
        guard taken.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return nil }
        defer { taken.store(false, ordering: .releasing) }
        // Written inside rather than returned: a value the lock's closure returns must be sendable.
        var value: T?
        try state.withLock { state in
            if case .unopened = state { state = .open(try DatabaseQueue(path: path, configuration: configuration)) }
            if case .open(let connection) = state { value = try connection.unsafeRead(body) }
        }
        return value
    }

    func close() throws {
        try state.withLock { state in
            if case .open(let connection) = state { try connection.close() }
            state = .closed
        }
    }
}

/// Copies the WAL back into the database file on a connection of its own, shortly after writes,
/// so that the fsync a checkpoint needs never holds up the writer. PASSIVE checkpoints run beside
/// the writer and the readers; when the WAL has grown long all the same, the writer is asked to
/// start it over (``SQLiteDatabase/restartWALIfAsked(_:)``).
private final class Checkpointer: Sendable {
    private let queue: DatabaseQueue
    private let scheduled = Atomic<Bool>(false)
    private let closed = Atomic<Bool>(false)
    private let restartWanted = Atomic<Bool>(false)
    /// Long enough to checkpoint many commits at once, short enough to keep the WAL small.
    private let delay = DispatchTimeInterval.milliseconds(50)
    /// WAL length (in pages) past which the writer is asked to start it over.
    private let restartPages: Int

    init(queue: DatabaseQueue, restartPages: Int) {
        self.queue = queue
        self.restartPages = restartPages
    }

    func noteCommit() {
        guard !scheduled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        DispatchQueue.global().asyncAfter(deadline: .now() + delay) { [self] in
            queue.asyncWriteWithoutTransaction { [self] db in
                scheduled.store(false, ordering: .releasing)
                guard !closed.load(ordering: .acquiring) else { return }
                // Busy (another checkpoint, the CLI) is fine: the next commit schedules another.
                try? checkpoint(db)
            }
        }
    }

    /// The checkpoint itself never holds up the writer; when it finds the WAL long, it asks the
    /// writer to finish the job (see ``SQLiteDatabase/restartWALIfAsked(_:)``).
    private func checkpoint(_ db: Database) throws {
        let passive = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)")
        let walPages: Int = passive?[1] ?? 0
        if walPages >= restartPages { restartWanted.store(true, ordering: .releasing) }
    }

    /// True once after a checkpoint found the WAL past `restartPages`.
    func takeRestartRequest() -> Bool {
        restartWanted.load(ordering: .acquiring) && restartWanted.exchange(false, ordering: .acquiringAndReleasing)
    }

    func close() throws {
        // Runs on the queue after any checkpoint already under way; later ones see the flag.
        queue.writeWithoutTransaction { _ in closed.store(true, ordering: .releasing) }
        try queue.close()
    }
}

private struct PendingWrites {
    var writes: [PendingWrite] = []
    var draining = false
}

/// A caller's write, waiting for the next group transaction.
private struct PendingWrite: Sendable {
    /// Runs the caller's body; what it returns answers the caller once the transaction commits.
    let run: @Sendable (Database) throws -> () -> Void
    /// Answers the caller with the error that kept its write out of the database.
    let fail: @Sendable (any Error) -> Void
}

/// Creates an empty file with mode 0600 unless one exists (O_EXCL: an existing file keeps its mode).
private func createOwnerOnlyFileIfMissing(_ path: String) {
    let descriptor = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
    if descriptor >= 0 { close(descriptor) }
}
