import BuzzBridgeCore
import BuzzBridgeStorage
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore

@testable import BuzzBridgeGateway

/// The gateway's router run in process (HummingbirdTesting's `.router` mode): every middleware and
/// route as the server has them, but no socket and no server task. For tests that check what the
/// API answers to bad input; the data still goes to a SQLite store in a temporary folder.
struct RouterGateway {
    let client: any TestClientProtocol
    let apiKey: String
    let adminToken: String
    let store: SQLiteStore

    /// Provisions a sandbox session as the first start does, then runs `body` against the router.
    static func with(_ body: @Sendable (RouterGateway) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-router-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try await DataFolder.openStore(at: directory)
        do {
            let provisioning = Provisioning(store: store)
            guard let (_, key) = try await provisioning.firstStart() else { throw TestFailure("data folder was not empty") }
            let adminToken = try await provisioning.resetAdminToken()
            var logger = Logger(label: "router-test")
            logger.logLevel = .critical
            let server = try GatewayServer(
                configuration: GatewayConfiguration(dataDirectory: directory, sandbox: .fastForTests, webhooks: .fastForTests),
                store: store, logger: logger
            )
            try await server.application.test(.router) { client in
                try await body(RouterGateway(client: client, apiKey: key.plaintext, adminToken: adminToken, store: store))
            }
            await server.hub.shutdown()
        } catch {
            try await store.close()
            throw error
        }
        try await store.close()
    }

    func request(_ method: HTTPRequest.Method, _ path: String, body: String? = nil, bearer: String? = nil) async throws -> TestGateway.Reply {
        var headers: HTTPFields = [.authorization: "Bearer \(bearer ?? apiKey)"]
        if body != nil { headers[.contentType] = "application/json" }
        let response = try await client.execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        return TestGateway.Reply(
            status: Int(response.status.code), headers: response.headers.map { ($0.name.rawName, $0.value) },
            body: Data(response.body.readableBytesView)
        )
    }

    /// The sandbox phone scans the session's QR code: the session becomes active.
    func connect() async throws {
        guard try await request(.get, "/api/qr").status == 200, try await request(.post, "/api/sandbox/scan").status == 200 else {
            throw TestFailure("the sandbox session did not connect")
        }
    }
}
