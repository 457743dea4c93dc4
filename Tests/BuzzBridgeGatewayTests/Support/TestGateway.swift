import AsyncHTTPClient
import BuzzBridgeCore
import BuzzBridgeEngines
import BuzzBridgeGateway
import BuzzBridgeStorage
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// A real BuzzBridge server on a free loopback port, with its own data folder, driven over HTTP.
final class TestGateway: Sendable {
    let port: Int
    let baseURL: String
    let dataDirectory: String
    let store: SQLiteStore
    let apiKey: String
    let adminToken: String
    let sessionID: String
    private let group: ServiceGroup
    private let runner: Task<Void, any Error>

    static let client = HTTPClient(eventLoopGroupProvider: .singleton)

    /// Starts a server. With `dataDirectory` it reuses an existing folder (restart tests);
    /// otherwise it makes a new one and provisions a sandbox session as the first start does.
    static func start(
        dataDirectory: String? = nil, sandbox: SandboxConfiguration = .fastForTests,
        credentials: (apiKey: String, adminToken: String, sessionID: String)? = nil,
        webhooks: WebhookConfiguration = .fastForTests, security: SecurityConfiguration = .init(), media: MediaConfiguration = .init()
    ) async throws -> TestGateway {
        let directory = dataDirectory ?? FileManager.default.temporaryDirectory.appendingPathComponent("bzb-test-\(UUID().uuidString)").path
        var logger = Logger(label: "test")
        logger.logLevel = ProcessInfo.processInfo.environment["BUZZBRIDGE_TEST_LOG"] == "1" ? .warning : .critical
        let store = try await DataFolder.openStore(at: directory)
        let provisioning = Provisioning(store: store)
        let apiKey: String, adminToken: String, sessionID: String
        if let credentials {
            (apiKey, adminToken, sessionID) = credentials
        } else {
            guard let (session, key) = try await provisioning.firstStart() else { throw TestFailure("data folder was not empty") }
            apiKey = key.plaintext
            sessionID = session.id.rawValue
            adminToken = try await provisioning.resetAdminToken()
        }
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let server: GatewayServer
        do {
            server = try GatewayServer(
                configuration: GatewayConfiguration(
                    host: "127.0.0.1", port: 0, dataDirectory: directory, sandbox: sandbox, webhooks: webhooks, security: security,
                    media: media
                ),
                store: store, logger: logger
            ) { port in portContinuation.yield(port) }
        } catch {
            try await store.close()
            if dataDirectory == nil { try? FileManager.default.removeItem(atPath: directory) }
            throw error
        }
        let group = ServiceGroup(configuration: .init(services: [server], logger: logger))
        let runner = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw TestFailure("server did not start") }
        return TestGateway(
            port: port, baseURL: "\(security.tls == nil ? "http" : "https")://127.0.0.1:\(port)", dataDirectory: directory, store: store,
            apiKey: apiKey, adminToken: adminToken, sessionID: sessionID, group: group, runner: runner
        )
    }

    private init(
        port: Int, baseURL: String, dataDirectory: String, store: SQLiteStore, apiKey: String, adminToken: String, sessionID: String,
        group: ServiceGroup, runner: Task<Void, any Error>
    ) {
        self.port = port
        self.baseURL = baseURL
        self.dataDirectory = dataDirectory
        self.store = store
        self.apiKey = apiKey
        self.adminToken = adminToken
        self.sessionID = sessionID
        self.group = group
        self.runner = runner
    }

    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await runner.value
        try await store.close()
    }

    /// Stops the server and deletes its data folder.
    func discard() async throws {
        try await stop()
        try? FileManager.default.removeItem(atPath: dataDirectory)
    }

    // MARK: HTTP

    struct Reply: Sendable {
        let status: Int
        let headers: [(String, String)]
        let body: Data

        var json: [String: Any] {
            get throws {
                guard let object = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
                    throw TestFailure("body is not a JSON object: \(String(decoding: body, as: UTF8.self))")
                }
                return object
            }
        }

        var data: [String: Any] { get throws { try json["data"] as? [String: Any] ?? [:] } }
        var errorCode: String? { try? (json["error"] as? [String: Any])?["code"] as? String }
        var errorDetails: [String: String] { (try? (json["error"] as? [String: Any])?["details"] as? [String: String]) ?? [:] }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    enum Auth { case apiKey, admin, none, bearer(String) }

    func request(_ method: HTTPMethod, _ path: String, body: String? = nil, auth: Auth = .apiKey, headers: [(String, String)] = []) async throws
        -> Reply
    {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        switch auth {
        case .apiKey: request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
        case .admin: request.headers.add(name: "Authorization", value: "Bearer \(adminToken)")
        case .bearer(let token): request.headers.add(name: "Authorization", value: "Bearer \(token)")
        case .none: break
        }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await Self.client.execute(request, timeout: .seconds(30))
        let buffer = try await response.body.collect(upTo: 16 * 1024 * 1024)
        return Reply(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) }, body: Data(buffer.readableBytesView))
    }

    func get(_ path: String, auth: Auth = .apiKey) async throws -> Reply { try await request(.GET, path, auth: auth) }

    func post(_ path: String, _ body: String? = nil, auth: Auth = .apiKey) async throws -> Reply {
        try await request(.POST, path, body: body, auth: auth)
    }

    /// Shows a QR code and scans it, leaving the session active.
    func connect() async throws {
        let qr = try await get("/api/qr")
        guard qr.status == 200 else { throw TestFailure("GET /api/qr: \(qr.status) \(qr.text)") }
        let scan = try await post("/api/sandbox/scan")
        guard scan.status == 200 else { throw TestFailure("scan: \(scan.status) \(scan.text)") }
    }

    /// Polls until `condition` holds or `timeout` passes; for events that arrive on a timer.
    func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension SandboxConfiguration {
    /// Short delays so the timed test numbers finish quickly.
    static var fastForTests: SandboxConfiguration {
        SandboxConfiguration(slowDeliveryDelay: .milliseconds(600), deliveryDelay: .milliseconds(50), replyDelay: .milliseconds(100))
    }
}

enum HTTPClientRequestFactory {
    static func get(_ url: String, bearer: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Authorization", value: "Bearer \(bearer)")
        return request
    }
}

extension WebhookConfiguration {
    /// Loopback receivers allowed, short retries; tests of the spec's exact schedule pass their own.
    static var fastForTests: WebhookConfiguration {
        WebhookConfiguration(
            retryDelays: [.milliseconds(200), .milliseconds(200), .milliseconds(200)], timeout: .seconds(5), allowPrivateAddresses: true)
    }
}
