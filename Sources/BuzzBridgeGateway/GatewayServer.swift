import BuzzBridgeCore
import BuzzBridgeEngines
import BuzzBridgeStorage
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import ServiceLifecycle

public struct GatewayConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Holds the SQLite database (`buzzbridge.sqlite`).
    public var dataDirectory: String
    public var sandbox: SandboxConfiguration
    public var webhooks: WebhookConfiguration
    /// HTTPS, rate limits and send pacing.
    public var security: SecurityConfiguration
    /// Builds the engines of live sessions (the live engine's factory); nil answers them with 503.
    public var liveEngines: (any EngineFactory)?
    /// Size and time limits of media files; they are kept in `media/` in the data folder.
    public var media: MediaConfiguration
    /// What logs may show of message text, phone numbers and URLs (`--log-sensitive`).
    public var logPrivacy: LogPrivacy
    /// Session leases shared with other nodes on one database (`--node-id`): engines then run only
    /// for the sessions this node holds. `nil`: one node owns every session.
    public var ownership: (any SessionOwnershipStore)?

    public init(
        host: String = "127.0.0.1", port: Int = 8080, dataDirectory: String = "./data", sandbox: SandboxConfiguration = .init(),
        webhooks: WebhookConfiguration = .init(), security: SecurityConfiguration = .init(), liveEngines: (any EngineFactory)? = nil,
        media: MediaConfiguration = .init(),
        logPrivacy: LogPrivacy = LogPrivacy(), ownership: (any SessionOwnershipStore)? = nil
    ) {
        self.ownership = ownership
        self.media = media
        self.logPrivacy = logPrivacy
        self.liveEngines = liveEngines
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
        self.sandbox = sandbox
        self.webhooks = webhooks
        self.security = security
    }
}

/// Opens the data folder's database, creating the folder first when needed.
public enum DataFolder {
    public static func openStore(at directory: String) async throws -> SQLiteStore {
        // A new data folder is its owner's alone: it holds the database with the webhook secrets.
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return try await SQLiteStore.open(path: (directory as NSString).appendingPathComponent("buzzbridge.sqlite"))
    }
}

/// The BuzzBridge HTTP service: builds the router and runs it with the engines and the store.
public struct GatewayServer: Service {
    let application: Application<RouterResponder<GatewayRequestContext>>
    let hub: SessionHub
    let downloads: MediaDownloads
    let store: any GatewayStore
    let webhooks: WebhookDispatcher
    /// Which sessions this node runs, with several nodes; `nil` with one.
    let ownership: SessionOwnership?
    /// With several nodes: sends other nodes queued for this node's sessions.
    let queuedSends: QueuedSends?
    /// This gateway's metrics (its own registry), served at `/metrics`.
    public let metrics: GatewayMetrics

    /// `onServerRunning` receives the bound port (useful with port 0).
    public init(
        configuration: GatewayConfiguration, store: any GatewayStore & WebhookStore, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws {
        let metrics = GatewayMetrics()
        let factory = DefaultEngineFactory(sandbox: configuration.sandbox, live: configuration.liveEngines, logger: logger)
        let blobs = try FileBlobStore(root: URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent("media"))
        let downloads = MediaDownloads(
            store: store, blobs: blobs, scratch: blobs.root.appendingPathComponent("tmp"),
            configuration: .init(maximumFileSize: configuration.media.maximumFileSize, concurrency: configuration.media.downloadConcurrency),
            logger: logger)
        let hub = SessionHub(
            store: store, factory: factory, blobs: blobs, mediaBaseURL: configuration.media.publicBaseURL, downloads: downloads,
            messageMetrics: metrics.messages, privacy: configuration.logPrivacy, logger: logger, leased: configuration.ownership != nil)
        self.ownership = configuration.ownership.map {
            SessionOwnership(leases: $0, store: store, hub: hub, metrics: OwnershipMetrics(factory: metrics.factory), logger: logger)
        }
        let urlPolicy = WebhookURLPolicy(allowPrivateAddresses: configuration.webhooks.allowPrivateAddresses)
        let services = GatewayServices(
            store: store, hub: hub, pacer: SendPacer(configuration: configuration.security.sendPacing),
            idempotentSends: IdempotentSends(store: store),
            blobs: blobs, media: configuration.media,
            mediaFetcher: MediaFetcher(policy: urlPolicy, timeout: configuration.media.fetchTimeout),
            mediaLinks: MediaLinkSigner(store: store),
            metrics: metrics, privacy: configuration.logPrivacy
        )
        self.queuedSends = ownership.flatMap { ownership in
            store.sendQueue.map { QueuedSends(queue: $0, messaging: Messaging(services: services), ownership: ownership, logger: logger) }
        }
        let router = Router(context: GatewayRequestContext.self)
        let security = configuration.security
        // Outermost, so that every answer, refusals and errors included, carries the request's id
        // and is counted with the status the client got.
        router.add(middleware: RequestIDMiddleware())
        router.add(middleware: RequestMetricsMiddleware(metrics: metrics.http))
        if security.requiresHTTPS { router.add(middleware: StrictTransportSecurityMiddleware()) }
        router.add(middleware: ErrorEnvelopeMiddleware())
        if security.trustProxy { router.add(middleware: ForwardedHTTPSMiddleware()) }
        try DocsRoutes().register(on: router)
        HealthRoutes(store: store, hub: hub).register(on: router)

        // One budget of failed authentications per client address, shared by every credential
        // (and by every node, when the store is shared).
        let failedAuth = FailedAuthLimiter(
            limiter: store.sharedRateLimitCounter(named: "failed-auth", window: 60) ?? SlidingWindowLimiter(),
            limit: security.failedAuthPerMinute, trustProxy: security.trustProxy)
        let provisioning = Provisioning(store: store)
        MetricsRoutes(
            metrics: metrics, store: store, access: MetricsAccess(provisioning: provisioning, metricsToken: security.metricsToken),
            failures: failedAuth
        ).register(on: router)
        let authenticator = APIKeyAuthenticator(store: store, usage: KeyUsageRecorder(), failures: failedAuth, latency: metrics.store)
        let rateLimit = APIRateLimitMiddleware(
            limiter: store.sharedRateLimitCounter(named: "api-key", window: 60) ?? SlidingWindowLimiter(), defaultLimit: security.requestsPerMinute)
        // Media files also answer signed links without a key; everything else there takes one.
        MediaRoutes(services: services).register(
            on: router.group("api/media").add(
                middleware: MediaAccessMiddleware(authenticator: authenticator, rateLimit: rateLimit, scope: ScopeMiddleware())))
        let api = router.group("api")
            .add(middleware: authenticator)
            .add(middleware: rateLimit)
            .add(middleware: ScopeMiddleware())
        SessionRoutes(services: services).register(on: api)
        MessageRoutes(services: services).register(on: api)
        SandboxRoutes(services: services).register(on: api)
        // Unknown /api paths also pass authentication and the rate limit, so that every /api
        // response carries the key's budget and nothing is revealed to a caller without a key.
        MethodNotAllowedRoutes.register(on: api, prefix: "/api", router: router)
        for method in MethodNotAllowedRoutes.methods {
            api.on("**", method: method) { _, _ -> Response in throw APIError.notFound }
        }

        let admin = router.group("admin/api").add(middleware: AdminAuthenticator(provisioning: provisioning, failures: failedAuth))
        AdminRoutes(provisioning: provisioning, hub: hub).register(on: admin)
        WebhookAdminRoutes(store: store, urlPolicy: urlPolicy).register(on: admin)
        MethodNotAllowedRoutes.register(on: admin, prefix: "/admin/api", router: router)
        AdminPanelRoutes(
            provisioning: provisioning, store: store, hub: hub, password: AdminPassword(store: store), logins: AdminPanelSessions(),
            failedLogins: failedAuth, urlPolicy: urlPolicy, secureCookies: security.requiresHTTPS,
            pages: try AdminPages.load()
        ).register(on: router)

        if security.connections.admittedConnections < security.connections.maximumConnections {
            logger.warning(
                "connection cap lowered to the file descriptor limit",
                metadata: ["configured": "\(security.connections.maximumConnections)", "admitted": "\(security.connections.admittedConnections)"]
            )
        }
        self.hub = hub
        self.downloads = downloads
        self.store = store
        self.metrics = metrics
        self.webhooks = WebhookDispatcher(
            store: store, configuration: configuration.webhooks, metrics: metrics, privacy: configuration.logPrivacy, logger: logger
        )
        self.application = Application(
            router: router,
            server: try security.tls.map { try HTTPSServer.builder($0, limits: security.connections) }
                ?? .http1OnConnectionLoops(limits: security.connections),
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port), serverName: "BuzzBridge",
                // Past the cap the server stops accepting until a connection closes.
                availableConnectionsDelegate: MaximumAvailableConnections(security.connections.admittedConnections, logger: logger)
            ),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger
        )
    }

    public func run() async throws {
        await downloads.attach { [hub] session in await hub.runningEngine(for: session) }
        try await hub.restore()
        if let ownership {
            await hub.claim { session in await ownership.claim(session) }
            // This node's first share of the sessions is taken before it answers requests.
            await ownership.round()
        }
        // With several nodes, each session's files are resumed by the node that takes it.
        if ownership == nil { await downloads.resumeAwaiting() }
        try await withThrowingDiscardingTaskGroup { group in
            if let ownership {
                // Ends on graceful shutdown by releasing every lease, so other nodes take over at once.
                group.addTask { await ownership.run() }
            }
            if let queuedSends {
                group.addTask { await queuedSends.run() }
            }
            // Stops by itself on graceful shutdown, like the application.
            group.addTask { try await webhooks.run() }
            try await withGracefulShutdownHandler {
                try await application.run()
            } onGracefulShutdown: {
            }
            await downloads.shutdown()
            await hub.shutdown()
        }
    }
}
