import ArgumentParser
import BuzzBridgeCore
import BuzzBridgeEngines
import BuzzBridgeGateway
import BuzzBridgeLiveEngine
import BuzzBridgePostgres
import BuzzBridgeStorage
import CoreMetrics
import Foundation
import Logging
import ServiceLifecycle

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Start the HTTP service.",
        discussion: "On an empty data folder it creates a sandbox session and prints its API key and the admin token, once."
    )

    @OptionGroup var dataOptions: DataOptions

    @Option(help: "Address to listen on (env BUZZBRIDGE_HOST).")
    var host: String = ProcessInfo.processInfo.environment["BUZZBRIDGE_HOST"] ?? "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free one (env BUZZBRIDGE_PORT).")
    var port: Int = Int(ProcessInfo.processInfo.environment["BUZZBRIDGE_PORT"] ?? "") ?? 8080

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (env LOG_LEVEL).")
    var logLevel: String = ProcessInfo.processInfo.environment["LOG_LEVEL"] ?? "info"

    @Option(help: "Log format: text (one line per entry) or json (one JSON object per line) (env BUZZBRIDGE_LOG_FORMAT).")
    var logFormat: String = ProcessInfo.processInfo.environment["BUZZBRIDGE_LOG_FORMAT"] ?? "text"

    @Flag(
        help:
            "Logs show message text, phone numbers and webhook URLs whole, for debugging; off, they are redacted (env BUZZBRIDGE_LOG_SENSITIVE=1). Keys and tokens are never logged."
    )
    var logSensitive = false
    private var logsSensitiveData: Bool { logSensitive || ProcessInfo.processInfo.environment["BUZZBRIDGE_LOG_SENSITIVE"] == "1" }

    @Option(help: "Sandbox: scan each QR code by itself after this many seconds (default: wait for POST /api/sandbox/scan).")
    var sandboxAutoScan: Double?

    @Option(help: "Sandbox: seconds +60100000002 takes to show delivered, and again to show read.")
    var sandboxSlowDelay: Double = 3

    @Option(help: "Webhooks: seconds without an answer before an attempt counts as failed (env BUZZBRIDGE_WEBHOOK_TIMEOUT).")
    var webhookTimeout: Double = Double(ProcessInfo.processInfo.environment["BUZZBRIDGE_WEBHOOK_TIMEOUT"] ?? "") ?? 30

    @Option(help: "Webhooks: comma-separated seconds to wait before each retry.")
    var webhookRetryDelays: String = "1,5,15"

    @Flag(help: "Webhooks: allow loopback and private addresses, for development (env BUZZBRIDGE_WEBHOOK_ALLOW_PRIVATE=1).")
    var webhookAllowPrivateAddresses = false

    @Option(help: "Webhooks: requests open at once per endpoint, each for another conversation, 1 to 64 (env BUZZBRIDGE_WEBHOOK_CONCURRENCY).")
    var webhookConcurrency: Int =
        Int(ProcessInfo.processInfo.environment["BUZZBRIDGE_WEBHOOK_CONCURRENCY"] ?? "")
        ?? WebhookConfiguration.defaultMaximumInFlightPerEndpoint

    @Option(help: "Webhooks: on SIGTERM, seconds the attempts under way may take to finish (env BUZZBRIDGE_WEBHOOK_SHUTDOWN_GRACE).")
    var webhookShutdownGrace: Double = Double(ProcessInfo.processInfo.environment["BUZZBRIDGE_WEBHOOK_SHUTDOWN_GRACE"] ?? "") ?? 10

    @Option(help: "HTTPS: certificate chain, PEM (env BUZZBRIDGE_TLS_CERT). With --tls-key, only HTTPS (TLS 1.2/1.3) is served.")
    var tlsCert: String?

    @Option(help: "HTTPS: private key, PEM (env BUZZBRIDGE_TLS_KEY).")
    var tlsKey: String?

    // The environment fills in what the command line leaves out (an optional option takes no default).
    private var tlsCertPath: String? { tlsCert ?? ProcessInfo.processInfo.environment["BUZZBRIDGE_TLS_CERT"] }
    private var tlsKeyPath: String? { tlsKey ?? ProcessInfo.processInfo.environment["BUZZBRIDGE_TLS_KEY"] }

    @Flag(help: "Behind a reverse proxy that terminates TLS: require X-Forwarded-Proto: https and take the client address from X-Forwarded-For.")
    var trustProxy = false

    // A flag's default must be false (ArgumentParser checks it in debug builds); the environment
    // turns these on when the command line does not.
    private var allowsPrivateWebhookAddresses: Bool {
        webhookAllowPrivateAddresses || ProcessInfo.processInfo.environment["BUZZBRIDGE_WEBHOOK_ALLOW_PRIVATE"] == "1"
    }
    private var trustsProxy: Bool { trustProxy || ProcessInfo.processInfo.environment["BUZZBRIDGE_TRUST_PROXY"] == "1" }

    @Option(
        help:
            "A bearer token that reads /metrics and nothing else (env BUZZBRIDGE_METRICS_TOKEN, which keeps it out of the process list); without it /metrics needs the admin token."
    )
    var metricsToken: String?
    private var metricsTokenValue: String? { metricsToken ?? ProcessInfo.processInfo.environment["BUZZBRIDGE_METRICS_TOKEN"] }

    @Option(help: "API requests per minute per key, unless the key has its own limit.")
    var rateLimit: Int = 100

    @Option(help: "Failed authentication attempts per minute per client address before it is refused.")
    var failedAuthLimit: Int = 10

    @Option(help: "Outgoing WhatsApp messages per minute per live session (sends are queued and paced).")
    var sendRate: Int = 20

    @Option(help: "Sends that may wait per session; beyond it a send gets RATE_LIMIT_EXCEEDED.")
    var sendQueueLimit: Int = 50

    @Option(
        help:
            "The random pause before each live send, in milliseconds: MIN-MAX, or one number for a fixed pause; 0 turns it off (for benchmarks, never for a real number)."
    )
    var sendPause: String = "300-1500"

    /// `--send-pause` as a range of durations; nil when it is not `N` or `MIN-MAX` with MIN ≤ MAX.
    var sendPauseRange: ClosedRange<Duration>? {
        let bounds = sendPause.split(separator: "-", omittingEmptySubsequences: false).map { Int64($0.trimmingCharacters(in: .whitespaces)) }
        guard (1...2).contains(bounds.count), let low = bounds.first ?? nil, let high = bounds.last ?? nil, low >= 0, low <= high else {
            return nil
        }
        return .milliseconds(low)...(.milliseconds(high))
    }

    @Option(
        help: "WhatsApp: connect through this proxy, http://host:port (HTTP CONNECT) or socks5://[user:password@]host:port (env BUZZBRIDGE_WA_PROXY)."
    )
    var waProxy: String?

    @Option(help: "WhatsApp: a PEM file of extra trusted certificate authorities for the TLS connection (env BUZZBRIDGE_WA_CA_FILE).")
    var waCaFile: String?

    @Option(
        help:
            "WhatsApp: replace the pinned root key of the server's Noise certificate chain, 64 hex digits. ONLY for a server double (env BUZZBRIDGE_WA_NOISE_ROOT_KEY)."
    )
    var waNoiseRootKey: String?

    @Option(
        help:
            "WhatsApp: the WhatsApp Web version announced, X.Y.Z; set it when WhatsApp refuses the built-in one (failure 405) (env BUZZBRIDGE_WA_VERSION)."
    )
    var waVersion: String?

    @Option(
        help:
            "WhatsApp: keepalive MIN,MAX,DEADLINE,GIVE_UP seconds (default WhatsApp Web's 20,30,10,180); shorter only against a server double (env BUZZBRIDGE_WA_KEEPALIVE)."
    )
    var waKeepalive: String?

    @Option(
        help:
            "WhatsApp: seconds a sent message waits for the server's ack before it is marked failed (default 75) (env BUZZBRIDGE_WA_ACK_TIMEOUT)."
    )
    var waAckTimeout: String?

    /// The flags, or the environment where a flag is left out.
    private var whatsApp: WhatsAppConnectionSettings {
        let environment = ProcessInfo.processInfo.environment
        return WhatsAppConnectionSettings(
            proxy: waProxy ?? environment["BUZZBRIDGE_WA_PROXY"], caFile: waCaFile ?? environment["BUZZBRIDGE_WA_CA_FILE"],
            noiseRootKey: waNoiseRootKey ?? environment["BUZZBRIDGE_WA_NOISE_ROOT_KEY"], version: waVersion ?? environment["BUZZBRIDGE_WA_VERSION"],
            keepAlive: waKeepalive ?? environment["BUZZBRIDGE_WA_KEEPALIVE"],
            ackTimeout: waAckTimeout ?? environment["BUZZBRIDGE_WA_ACK_TIMEOUT"]
        )
    }

    @Option(
        help:
            "Several nodes on one PostgreSQL database: this node's id, unique among them (env BUZZBRIDGE_NODE_ID; default HOSTNAME-PID). Only with --database."
    )
    var nodeId: String?
    private var nodeID: String {
        nodeId ?? ProcessInfo.processInfo.environment["BUZZBRIDGE_NODE_ID"]
            ?? "\(Self.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// The host's name as the kernel has it (Foundation's `hostName` may ask DNS).
    private static var hostName: String {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return "node" }
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    @Option(
        help:
            "Several nodes: seconds a session lease lasts; a dead node's sessions are taken over within 4/3 of it (env BUZZBRIDGE_LEASE_DURATION)."
    )
    var leaseDuration: Double = Double(ProcessInfo.processInfo.environment["BUZZBRIDGE_LEASE_DURATION"] ?? "") ?? 10

    @Option(help: "Seconds a client has to send a request's headers, from connecting or from its first byte (env BUZZBRIDGE_HEADER_TIMEOUT).")
    var headerTimeout: Double = Double(ProcessInfo.processInfo.environment["BUZZBRIDGE_HEADER_TIMEOUT"] ?? "") ?? 10

    @Option(help: "Seconds a kept-alive connection may wait for its next request (env BUZZBRIDGE_IDLE_TIMEOUT).")
    var idleTimeout: Double = Double(ProcessInfo.processInfo.environment["BUZZBRIDGE_IDLE_TIMEOUT"] ?? "") ?? 60

    @Option(help: "Seconds a client has to send a request's body after its headers (env BUZZBRIDGE_BODY_TIMEOUT).")
    var bodyTimeout: Double = Double(ProcessInfo.processInfo.environment["BUZZBRIDGE_BODY_TIMEOUT"] ?? "") ?? 30

    @Option(
        help:
            "Connections open at once; past it new ones wait to be accepted (env BUZZBRIDGE_MAX_CONNECTIONS; default 4096, less under a low file limit)."
    )
    var maxConnections: Int =
        Int(ProcessInfo.processInfo.environment["BUZZBRIDGE_MAX_CONNECTIONS"] ?? "") ?? ConnectionLimits.defaultMaximumConnections

    @Option(
        help: "Media: largest file accepted in a send or fetched from WhatsApp for an incoming message, in megabytes (env BUZZBRIDGE_MEDIA_MAX_MB)."
    )
    var mediaMaxMb: Int = Int(ProcessInfo.processInfo.environment["BUZZBRIDGE_MEDIA_MAX_MB"] ?? "") ?? 64

    @Option(help: "Media: incoming files fetched from WhatsApp at once, per server (env BUZZBRIDGE_MEDIA_DOWNLOAD_CONCURRENCY).")
    var mediaDownloadConcurrency: Int = Int(ProcessInfo.processInfo.environment["BUZZBRIDGE_MEDIA_DOWNLOAD_CONCURRENCY"] ?? "") ?? 4

    @Option(help: "Media: seconds fetching a media.url may take (env BUZZBRIDGE_MEDIA_FETCH_TIMEOUT).")
    var mediaFetchTimeout: Double = Double(ProcessInfo.processInfo.environment["BUZZBRIDGE_MEDIA_FETCH_TIMEOUT"] ?? "") ?? 30

    @Option(help: "Media: longest lifetime of a signed media link, in hours (env BUZZBRIDGE_MEDIA_LINK_MAX_HOURS).")
    var mediaLinkMaxHours: Int = Int(ProcessInfo.processInfo.environment["BUZZBRIDGE_MEDIA_LINK_MAX_HOURS"] ?? "") ?? 168

    @Option(help: "The public base URL put before media_url paths, e.g. https://bridge.example.com (env BUZZBRIDGE_PUBLIC_URL).")
    var publicUrl: String = ProcessInfo.processInfo.environment["BUZZBRIDGE_PUBLIC_URL"] ?? ""

    private var retryDelays: [Double]? {
        let parts = webhookRetryDelays.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.allSatisfy({ ($0 ?? -1) >= 0 }) else { return nil }
        return parts.compactMap { $0 }
    }

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        guard sandboxSlowDelay >= 0 else { throw ValidationError("--sandbox-slow-delay must not be negative") }
        guard webhookTimeout > 0 else { throw ValidationError("--webhook-timeout must be positive") }
        guard ["text", "json"].contains(logFormat) else { throw ValidationError("--log-format must be text or json") }
        guard webhookShutdownGrace >= 0 else { throw ValidationError("--webhook-shutdown-grace must not be negative") }
        guard (1...64).contains(webhookConcurrency) else { throw ValidationError("--webhook-concurrency must be between 1 and 64") }
        guard retryDelays != nil else { throw ValidationError("--webhook-retry-delays must be comma-separated non-negative seconds") }
        guard (tlsCertPath == nil) == (tlsKeyPath == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
        guard headerTimeout > 0, idleTimeout > 0, bodyTimeout > 0 else {
            throw ValidationError("--header-timeout, --idle-timeout and --body-timeout must be positive")
        }
        guard (1...4096).contains(mediaMaxMb) else { throw ValidationError("--media-max-mb must be between 1 and 4096") }
        guard (1...64).contains(mediaDownloadConcurrency) else { throw ValidationError("--media-download-concurrency must be between 1 and 64") }
        guard mediaFetchTimeout > 0, mediaLinkMaxHours > 0 else {
            throw ValidationError("--media-fetch-timeout and --media-link-max-hours must be positive")
        }
        guard publicUrl.isEmpty || ((publicUrl.hasPrefix("http://") || publicUrl.hasPrefix("https://")) && !publicUrl.hasSuffix("/")) else {
            throw ValidationError("--public-url must be an http(s) URL without a trailing slash")
        }
        if let token = metricsTokenValue, token.count < 16 {
            throw ValidationError("--metrics-token must be at least 16 characters")
        }
        guard (1...3600).contains(leaseDuration) else { throw ValidationError("--lease-duration must be between 1 and 3600 seconds") }
        guard !nodeID.isEmpty, nodeID.count <= 200, !nodeID.contains(where: { $0.isWhitespace || $0.isNewline }) else {
            throw ValidationError("--node-id must be 1 to 200 characters without spaces")
        }
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be positive") }
        guard rateLimit > 0, failedAuthLimit > 0, sendRate > 0, sendQueueLimit > 0 else {
            throw ValidationError("--rate-limit, --failed-auth-limit, --send-rate and --send-queue-limit must be positive")
        }
        guard sendPauseRange != nil else {
            throw ValidationError("--send-pause must be milliseconds, MIN-MAX (such as 300-1500) or one number (0 for none)")
        }
        do {
            _ = try whatsApp.clientOptions()
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let json = logFormat == "json"
        LoggingSystem.bootstrap { label in
            if json { return JSONLogHandler(label: label, level: level) }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "buzzbridge")
        // On PostgreSQL every node holds leases on its sessions, so that several may share the
        // database; on SQLite the one process owns every session.
        let store: any GatewayStore & WebhookStore
        var ownership: (any SessionOwnershipStore)?
        if let url = dataOptions.databaseURL {
            let postgres = try await PostgresStore.open(
                url: url, leases: SessionLeasePolicy(node: nodeID, duration: .milliseconds(Int64(leaseDuration * 1000))))
            store = postgres
            ownership = postgres.leases.map(PostgresSessionOwnership.init(leases:))
            logger.info("several-node mode: session leases", metadata: ["node": "\(nodeID)", "lease_seconds": "\(leaseDuration)"])
        } else {
            store = try await dataOptions.openStore()
        }
        let provisioning = Provisioning(store: store)
        if let (session, key) = try await provisioning.firstStart() {
            announce("BuzzBridge first start: created sandbox session \(session.id)")
            announce("  API key (shown once, keep it): \(key.plaintext)")
        }
        if let adminToken = try await provisioning.ensureAdminToken() {
            announce("  Admin token (shown once, keep it): \(adminToken)")
        }
        if let password = try await AdminPassword(store: store).ensure() {
            announce("  Admin panel password (shown once; change it with `buzzbridge admin set-password`): \(password)")
        }
        var sandbox = SandboxConfiguration()
        sandbox.autoScanAfter = sandboxAutoScan.map { .milliseconds(Int64($0 * 1000)) }
        sandbox.slowDeliveryDelay = .milliseconds(Int64(sandboxSlowDelay * 1000))
        let webhooks = WebhookConfiguration(
            retryDelays: (retryDelays ?? []).map { .milliseconds(Int64($0 * 1000)) }, timeout: .milliseconds(Int64(webhookTimeout * 1000)),
            allowPrivateAddresses: allowsPrivateWebhookAddresses, maximumInFlightPerEndpoint: webhookConcurrency,
            shutdownGracePeriod: .milliseconds(Int64(webhookShutdownGrace * 1000))
        )
        let security = SecurityConfiguration(
            requestsPerMinute: rateLimit, failedAuthPerMinute: failedAuthLimit,
            tls: tlsCertPath.flatMap { cert in tlsKeyPath.map { TLSFiles(certificateChainPath: cert, privateKeyPath: $0) } },
            trustProxy: trustsProxy,
            sendPacing: SendPacingConfiguration(
                messagesPerMinute: sendRate, jitter: sendPauseRange ?? .milliseconds(300)...(.milliseconds(1500)), queueLimit: sendQueueLimit),
            connections: ConnectionLimits(
                headerReadTimeout: .milliseconds(Int64(headerTimeout * 1000)), idleTimeout: .milliseconds(Int64(idleTimeout * 1000)),
                bodyReadTimeout: .milliseconds(Int64(bodyTimeout * 1000)), maximumConnections: maxConnections
            ),
            metricsToken: metricsTokenValue
        )
        let whatsApp = whatsApp
        if whatsApp.replacesNoiseRoot {
            let warning =
                "WARNING: --wa-noise-root-key replaces WhatsApp's pinned server key: live sessions trust ONLY that key's "
                + "server, never WhatsApp itself. Use it with a test server double, never in production."
            announce(String(repeating: "!", count: 100))
            announce(warning)
            announce(String(repeating: "!", count: 100))
            logger.critical("\(warning)")
        }
        let privacy = LogPrivacy(showsSensitiveData: logsSensitiveData)
        if privacy.showsSensitiveData {
            logger.warning("--log-sensitive: logs show message text, phone numbers and webhook URLs; turn it off outside debugging")
        }
        // The live engine keeps its protocol state in the store, SQLite's or PostgreSQL's alike.
        let live = try (store as? any ProtocolStateStore).map { store in
            LiveEngineFactory(store: store, options: try whatsApp.clientOptions(), logger: Logger(label: "buzzbridge.live"), privacy: privacy)
        }
        let media = MediaConfiguration(
            maximumFileSize: mediaMaxMb * 1_048_576, fetchTimeout: .milliseconds(Int64(mediaFetchTimeout * 1000)),
            maximumLinkLifetime: .seconds(Int64(mediaLinkMaxHours) * 3600), publicBaseURL: publicUrl,
            downloadConcurrency: mediaDownloadConcurrency
        )
        let configuration = GatewayConfiguration(
            host: host, port: port, dataDirectory: dataOptions.data, sandbox: sandbox, webhooks: webhooks, security: security, liveEngines: live,
            media: media, logPrivacy: privacy, ownership: ownership
        )
        let scheme = security.tls == nil ? "http" : "https"
        let server = try GatewayServer(configuration: configuration, store: store, logger: logger) { port in
            announce("BuzzBridge listening on \(scheme)://\(configuration.host):\(port) (data: \(configuration.dataDirectory))")
        }
        // Libraries that report through swift-metrics' global system (none of the gateway's own
        // metrics do) land in the same registry as the gateway's.
        MetricsSystem.bootstrap(server.metrics.factory)
        let group = ServiceGroup(configuration: .init(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        try await store.close()
    }
}

/// Writes a line to standard output at once: keys and the address must reach a pipe even when
/// the process runs for hours afterwards.
func announce(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
