#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How long a connection may take over each part of a request, and how many may be open, so
/// that idle or deliberately slow clients cannot hold the server's sockets (slowloris).
public struct ConnectionLimits: Sendable, Equatable {
    /// From the connection's start (or the first byte of a kept-alive connection's next request)
    /// until the request's head (request line and headers) is complete.
    public var headerReadTimeout: Duration
    /// A kept-alive connection with no request under way is closed after this long.
    public var idleTimeout: Duration
    /// From the end of a request's head until the last byte of its body.
    public var bodyReadTimeout: Duration
    /// Connections open at once; past it the server stops accepting (they wait in the kernel's
    /// backlog) until one closes.
    public var maximumConnections: Int

    public init(
        headerReadTimeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(60), bodyReadTimeout: Duration = .seconds(30),
        maximumConnections: Int = ConnectionLimits.defaultMaximumConnections
    ) {
        self.headerReadTimeout = headerReadTimeout
        self.idleTimeout = idleTimeout
        self.bodyReadTimeout = bodyReadTimeout
        self.maximumConnections = maximumConnections
    }

    /// 4,096, or fewer when the process may not open that many files (``descriptorBudget``).
    public static var defaultMaximumConnections: Int { min(4096, descriptorBudget) }

    /// The connections the server really admits: never more than ``descriptorBudget``, whatever
    /// was configured. Accepting must never run into the descriptor limit (`EMFILE`): there the
    /// listening socket stays readable, and the event loop, although NIO's `AcceptBackoffHandler`
    /// is in its pipeline, was measured spending half a core on failed accepts for as long as
    /// the connections stayed open.
    public var admittedConnections: Int { min(maximumConnections, Self.descriptorBudget) }

    /// The soft descriptor limit less 128 kept free for the database, webhook deliveries and the
    /// engines (at least 16).
    public static var descriptorBudget: Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < rlim_t(Int32.max) else { return Int(Int32.max) }
        return max(16, Int(limit.rlim_cur) - 128)
    }
}
