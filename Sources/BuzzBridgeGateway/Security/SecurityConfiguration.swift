import Foundation

/// How the gateway protects itself when exposed to the internet.
public struct SecurityConfiguration: Sendable {
    /// API requests per minute per key, unless the key carries its own limit.
    public var requestsPerMinute: Int
    /// Failed authentication attempts per minute per client address before it is refused.
    public var failedAuthPerMinute: Int
    /// Serve HTTPS with this certificate chain and key (PEM files).
    public var tls: TLSFiles?
    /// Behind a reverse proxy that terminates TLS: trust `X-Forwarded-Proto` and `X-Forwarded-For`.
    public var trustProxy: Bool
    /// Outgoing WhatsApp messages per minute per session, and their queue.
    public var sendPacing: SendPacingConfiguration
    /// Timeouts for reading requests and the cap on open connections.
    public var connections: ConnectionLimits
    /// A bearer token that reads `/metrics` and nothing else; without it only the admin token does.
    public var metricsToken: String?

    public init(
        requestsPerMinute: Int = 100, failedAuthPerMinute: Int = 10, tls: TLSFiles? = nil, trustProxy: Bool = false,
        sendPacing: SendPacingConfiguration = .init(), connections: ConnectionLimits = .init(), metricsToken: String? = nil
    ) {
        self.metricsToken = metricsToken
        self.connections = connections
        self.requestsPerMinute = requestsPerMinute
        self.failedAuthPerMinute = failedAuthPerMinute
        self.tls = tls
        self.trustProxy = trustProxy
        self.sendPacing = sendPacing
    }

    /// Requests must have arrived over HTTPS, directly or through a trusted proxy.
    var requiresHTTPS: Bool { tls != nil || trustProxy }
}

public struct TLSFiles: Sendable, Equatable {
    public var certificateChainPath: String
    public var privateKeyPath: String

    public init(certificateChainPath: String, privateKeyPath: String) {
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
    }
}

/// WhatsApp bans numbers that send in bursts: each session's outgoing messages leave at most
/// `messagesPerMinute` a minute, each after a small random pause, from a queue of bounded length.
public struct SendPacingConfiguration: Sendable {
    public var messagesPerMinute: Int
    /// A random pause in this range before each message, so that sends do not look scripted.
    public var jitter: ClosedRange<Duration>
    /// Sends waiting per session beyond which a send is refused with RATE_LIMIT_EXCEEDED.
    public var queueLimit: Int
    /// Sandbox sessions never reach WhatsApp, so they are not paced unless asked (tests do).
    public var pacesSandbox: Bool

    public init(
        messagesPerMinute: Int = 20, jitter: ClosedRange<Duration> = .milliseconds(300)...(.milliseconds(1500)), queueLimit: Int = 50,
        pacesSandbox: Bool = false
    ) {
        self.messagesPerMinute = messagesPerMinute
        self.jitter = jitter
        self.queueLimit = queueLimit
        self.pacesSandbox = pacesSandbox
    }
}
