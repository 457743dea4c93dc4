import BuzzBridgeCore
import Logging
import PostgresNIO
import Synchronization

/// This node's session ownership leases in PostgreSQL (`session_leases`), with fencing tokens.
///
/// Each operation is one transaction holding the lease row's lock (`FOR UPDATE`), deciding with
/// ``SessionLeasePolicy`` against the database's clock (one clock for every node, so their own
/// clocks' drift cannot hand a lease to two of them), and drawing new tokens from one sequence:
/// a token is bigger than every token granted before it and never given out again, not after a
/// release, not after the session is deleted. The tokens this node holds are kept here, and the
/// store opened with these leases writes protocol state only under them (the fence in
/// ``PostgresProtocolState/begin(_:session:connection:logger:)``).
///
/// Only the primitives: the gateway's `SessionOwnership` renews them and takes over dead nodes' sessions,
/// through ``PostgresSessionOwnership``.
public final class SessionLeases: Sendable {
    public let policy: SessionLeasePolicy
    let client: PostgresClient
    let logger: Logger
    /// The token of every lease this node holds, by session.
    private let held = Mutex<[SessionID: Int64]>([:])

    init(policy: SessionLeasePolicy, client: PostgresClient, logger: Logger) {
        self.policy = policy
        self.client = client
        self.logger = logger
    }

    /// Takes the session's lease if it is free or expired, with a new token; throws
    /// ``SessionLeaseError/held(owner:until:)`` if another grant is still live.
    public func acquire(_ session: SessionID) async throws -> SessionLease {
        let lease = try await change(session) { [policy] record, now in policy.acquire(record, now: now) }
        held.withLock { $0[session] = lease.token }
        return lease
    }

    /// Moves `lease`'s expiry on, keeping its token; throws ``SessionLeaseError/notHolder(owner:token:)``
    /// (and forgets the token) if this node no longer holds it with that token.
    public func renew(_ lease: SessionLease) async throws -> SessionLease {
        do {
            return try await change(lease.session) { [policy] record, now in policy.renew(record, token: lease.token, now: now) }
        } catch let error as SessionLeaseError {
            forget(lease)
            throw error
        }
    }

    /// Renews every lease of `leases` in one statement, as ``renew(_:)`` would one by one: each
    /// whose row still has this node as owner with that token gets the same token and a new expiry
    /// (the statement's row locks stand for ``renew(_:)``'s `FOR UPDATE`); the others are
    /// forgotten and left out of the answer.
    public func renew(all leases: [SessionLease]) async throws -> [SessionLease] {
        guard !leases.isEmpty else { return [] }
        let (node, logger) = (policy.node, logger)
        let components = policy.duration.components
        let milliseconds = components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
        let sessions = leases.map(\.session.rawValue)
        let tokens = leases.map(\.token)
        var renewed: [SessionLease] = []
        for try await (session, token, expiresAt) in try await client.query(
            """
            UPDATE session_leases AS lease SET expires_at = (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT + \(milliseconds)
            FROM unnest(\(sessions)::TEXT[], \(tokens)::BIGINT[]) AS held(session_id, token)
            WHERE lease.session_id = held.session_id AND lease.token = held.token AND lease.owner = \(node)
            RETURNING lease.session_id, lease.token, lease.expires_at
            """,
            logger: logger
        ).decode((String, Int64, Int64).self) {
            renewed.append(
                SessionLease(
                    session: SessionID(rawValue: session), owner: node, token: token, expiresAt: Timestamp(millisecondsSinceEpoch: expiresAt)))
        }
        let kept = Set(renewed.map(\.session))
        for lease in leases where !kept.contains(lease.session) { forget(lease) }
        return renewed
    }

    /// Frees `lease` at once for any node to take; this node stops writing under it.
    public func release(_ lease: SessionLease) async throws {
        forget(lease)
        _ = try await change(lease.session) { [policy] record, now in policy.release(record, token: lease.token, now: now) }
    }

    /// The token this node holds for `session`, `nil` if none.
    public func token(of session: SessionID) -> Int64? {
        held.withLock { $0[session] }
    }

    /// The database's clock, which every lease's expiry is measured by.
    public func databaseTime() async throws -> Timestamp {
        let logger = logger
        return try await client.withConnection { connection in try await Self.now(connection, logger: logger) }
    }

    /// Stops writing under `lease` without telling the database (it may be unreachable): the
    /// lease then expires by itself.
    public func abandon(_ lease: SessionLease) {
        forget(lease)
    }

    private func forget(_ lease: SessionLease) {
        held.withLock { if $0[lease.session] == lease.token { $0[lease.session] = nil } }
    }

    /// Locks the session's lease row (creating a free one first), applies `decide`, and returns
    /// the lease as written. A refusal commits nothing but the free row, and is thrown as itself
    /// (not wrapped in postgres-nio's transaction error) once the transaction is over.
    private func change(
        _ session: SessionID, _ decide: @escaping @Sendable (SessionLeaseRecord, Timestamp) -> SessionLeaseDecision
    ) async throws -> SessionLease {
        let (logger, node) = (logger, policy.node)
        return try await client.withTransaction(logger: logger) { connection -> Result<SessionLease, SessionLeaseError> in
            try await connection.query(
                "INSERT INTO session_leases (session_id) VALUES (\(session.rawValue)) ON CONFLICT (session_id) DO NOTHING", logger: logger)
            var record: SessionLeaseRecord?
            for try await (owner, token, expiresAt) in try await connection.query(
                "SELECT owner, token, expires_at FROM session_leases WHERE session_id = \(session.rawValue) FOR UPDATE", logger: logger
            ).decode((String?, Int64, Int64).self) {
                record = SessionLeaseRecord(owner: owner, token: token, expiresAt: Timestamp(millisecondsSinceEpoch: expiresAt))
            }
            guard let record else { return .failure(.notHolder(owner: nil, token: 0)) }
            let now = try await Self.now(connection, logger: logger)
            switch decide(record, now) {
            case .refuse(let error):
                return .failure(error)
            case .write(let owner, let expiresAt, let newToken):
                var token = record.token
                for try await written in try await connection.query(
                    """
                    UPDATE session_leases SET owner = \(owner), expires_at = \(expiresAt.millisecondsSinceEpoch),
                        token = CASE WHEN \(newToken) THEN nextval('session_lease_tokens') ELSE token END
                    WHERE session_id = \(session.rawValue) RETURNING token
                    """,
                    logger: logger
                ).decode(Int64.self) {
                    token = written
                }
                return .success(SessionLease(session: session, owner: owner ?? node, token: token, expiresAt: expiresAt))
            }
        }.get()
    }

    static func now(_ connection: PostgresConnection, logger: Logger) async throws -> Timestamp {
        var milliseconds: Int64 = 0
        for try await value in try await connection.query(
            "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT", logger: logger
        ).decode(Int64.self) {
            milliseconds = value
        }
        return Timestamp(millisecondsSinceEpoch: milliseconds)
    }
}
