import BuzzBridgeCore
import BuzzBridgeStorage
import NIOPosix
import PostgresNIO

/// ``ProtocolStateStore`` on PostgreSQL, behind the same synchronous bodies as SQLite's.
///
/// Why the bodies stay synchronous: the live engine's transactions (a ratchet step with its
/// plaintext, a batch of prekeys with the next id) are short, read-then-write sequences whose
/// reads decide the writes. SQLite runs them inside its single writer's closure, which cannot
/// await. Rather than make every reader call async (and SQLite's writer with it), the PostgreSQL
/// store runs the same body on a thread of its own blocking pool, inside a real transaction on
/// one pooled connection, waiting for each statement's answer there: no event loop and no task
/// thread ever blocks, the body sees exactly what is committed, and what it writes commits
/// together or not at all. The pool's size bounds the protocol transactions in flight, and a
/// gate in front of the connection pool keeps the others from holding connections meanwhile.
extension PostgresStore: ProtocolStateStore {
    public func readProtocolState<T: Sendable>(
        session: SessionID, _ body: @escaping @Sendable (any ProtocolStateReader) throws -> T
    ) async throws -> T {
        try await protocolTransaction(.read, session: session) { try body($0) }
    }

    public func withTransaction<T: Sendable>(
        session: SessionID, _ body: @escaping @Sendable (any ProtocolStateTransaction) throws -> T
    ) async throws -> T {
        try await protocolTransaction(.write, session: session) { try body($0) }
    }

    public func wipeProtocolState(session: SessionID) async throws {
        try await protocolTransaction(.write, session: session) { try $0.wipe() }
    }

    private func protocolTransaction<T: Sendable>(
        _ mode: ProtocolWriteMode, session: SessionID, _ body: @escaping @Sendable (PostgresProtocolState) throws -> T
    ) async throws -> T {
        let (threads, logger) = (protocolThreads, logger)
        return try await protocolGate.run {
            try await client.withConnection { connection in
                try await threads.runIfActive {
                    try PostgresProtocolState.transaction(mode, session: session, connection: connection, logger: logger, body)
                }
            }
        }
    }
}
