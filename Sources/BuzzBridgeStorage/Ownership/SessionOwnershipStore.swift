import BuzzBridgeCore

/// Where several nodes sharing one database agree who owns which session: a lease per session,
/// granted to one node at a time with a fencing token, and a heartbeat per node saying which
/// nodes are alive. The gateway decides what to ask for (`SessionOwnershipPlan`); an
/// implementation only applies the requests atomically against the database's clock.
///
/// A store that keeps everything in one process (SQLite) has no implementation: one node owns
/// every session and nothing is leased.
public protocol SessionOwnershipStore: Sendable {
    /// This node's id, unique among the nodes sharing the database.
    var node: String { get }
    /// How long a grant, a renewal or a heartbeat lasts.
    var leaseDuration: Duration { get }

    /// Marks this node alive for one lease duration more and reads every lease, the live nodes
    /// and the database's clock, as they stand now.
    func survey() async throws -> OwnershipSurvey

    /// Takes the session's lease if it is free or expired, with a new token; `nil` when another
    /// grant is still live.
    func acquire(_ session: SessionID) async throws -> OwnedLease?

    /// Moves the leases' expiries on, keeping their tokens, all in one request; the answer leaves
    /// out those this node no longer holds (another node took them after they expired, or the
    /// session is gone).
    func renew(_ leases: [OwnedLease]) async throws -> [OwnedLease]

    /// Frees the lease at once for any node to take.
    func release(_ lease: OwnedLease) async throws

    /// Stops treating `lease` as held without asking the database (it may be unreachable): every
    /// write under its token is refused from now on.
    func abandon(_ lease: OwnedLease)

    /// Takes this node off the live nodes (graceful shutdown), so that the others share its
    /// sessions among themselves at once.
    func leave() async throws
}

/// A lease this node holds: its fencing token and its expiry by the database's clock.
public struct OwnedLease: Sendable, Equatable {
    public let session: SessionID
    public let token: Int64
    public let expiresAt: Timestamp

    public init(session: SessionID, token: Int64, expiresAt: Timestamp) {
        self.session = session
        self.token = token
        self.expiresAt = expiresAt
    }
}

/// A session's lease as every node sees it.
public struct LeaseState: Sendable, Equatable {
    /// The holder; `nil` once released or before the first grant.
    public var owner: String?
    /// By the database's clock; past it, the lease is free to take whoever `owner` says.
    public var expiresAt: Timestamp
    /// The node an operator moved the session to (`buzzbridge sessions move`): while that node is
    /// live, the session is its own and stays with it; when it is not, any node may serve it.
    public var pinnedTo: String?

    public init(owner: String?, expiresAt: Timestamp, pinnedTo: String? = nil) {
        self.owner = owner
        self.expiresAt = expiresAt
        self.pinnedTo = pinnedTo
    }

    /// The node holding a live grant at `now`, if any.
    public func holder(at now: Timestamp) -> String? {
        guard let owner, expiresAt > now else { return nil }
        return owner
    }
}

/// Every lease and the live nodes, read together against the database's clock.
public struct OwnershipSurvey: Sendable, Equatable {
    public var now: Timestamp
    /// Sessions without a lease row never had an owner: they are free.
    public var leases: [SessionID: LeaseState]
    /// Nodes whose heartbeat has not expired (this node among them once it has surveyed).
    public var liveNodes: Set<String>

    public init(now: Timestamp, leases: [SessionID: LeaseState], liveNodes: Set<String>) {
        self.now = now
        self.leases = leases
        self.liveNodes = liveNodes
    }
}
