import Foundation

/// How a `WhatsAppClient` reaches the server and what it announces.
public struct WhatsAppClientOptions: Sendable {
    /// The chat socket; WhatsApp Web's unless a test points it elsewhere.
    public var url: URL
    /// `http://host:port` (HTTP CONNECT) or `socks5://[user:password@]host:port`.
    public var proxy: ProxyConfiguration?
    /// A PEM file of extra trusted certificate authorities for the TLS connection.
    public var additionalTrustedCAFile: String?
    /// Replaces WhatsApp's pinned Noise root key: only for a server double.
    public var noiseRootKeyOverride: Data?
    /// The WhatsApp Web version announced; too old a version is refused with `405`.
    public var version: WhatsAppWebVersion
    /// What the phone shows in its linked-devices list.
    public var companion: CompanionDescription
    /// Used when the store holds no push name yet.
    public var pushName: String?
    /// Reconnect by itself after a lost connection (not after a logout or a replacement).
    public var autoReconnect: Bool
    /// How long an IQ waits for its answer.
    public var requestTimeout: Duration
    public var keepAlive: KeepAlive.Timing
    /// How long a sent message waits for the server's ack before it counts as failed
    /// (whatsmeow send.go: SendMessage uses the request timeout).
    public var messageAckTimeout: Duration
    /// How long a send made while the client is reconnecting waits for the login.
    public var sendLoginWait: Duration

    public init(
        url: URL = WebSocketConfiguration.whatsAppURL,
        proxy: ProxyConfiguration? = nil,
        additionalTrustedCAFile: String? = nil,
        noiseRootKeyOverride: Data? = nil,
        version: WhatsAppWebVersion = .whatsmeowReference,
        companion: CompanionDescription = CompanionDescription(osName: "BuzzBridge"),
        pushName: String? = nil,
        autoReconnect: Bool = true,
        requestTimeout: Duration = InfoQuery.defaultTimeout,
        keepAlive: KeepAlive.Timing = .whatsmeow,
        messageAckTimeout: Duration = InfoQuery.defaultTimeout,
        sendLoginWait: Duration = .seconds(10)
    ) {
        self.url = url
        self.proxy = proxy
        self.additionalTrustedCAFile = additionalTrustedCAFile
        self.noiseRootKeyOverride = noiseRootKeyOverride
        self.version = version
        self.companion = companion
        self.pushName = pushName
        self.autoReconnect = autoReconnect
        self.requestTimeout = requestTimeout
        self.keepAlive = keepAlive
        self.messageAckTimeout = messageAckTimeout
        self.sendLoginWait = sendLoginWait
    }

    public enum ProxyURLError: Error, Equatable, Sendable {
        case unsupported(String)
    }

    /// Reads `http://[user:password@]host:port` or `socks5://[user:password@]host:port`.
    public static func proxy(from url: URL) throws(ProxyURLError) -> ProxyConfiguration {
        guard let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else {
            throw .unsupported(url.absoluteString)
        }
        let credentials = url.user.map { ProxyCredentials(username: $0.removingPercentEncoding ?? $0, password: url.password ?? "") }
        switch scheme {
        case "http": return .httpConnect(host: host, port: url.port ?? 80, credentials: credentials)
        case "socks5", "socks5h": return .socks5(host: host, port: url.port ?? 1080, credentials: credentials)
        default: throw .unsupported(url.absoluteString)
        }
    }
}
