import AsyncHTTPClient
import BuzzBridgeGateway
import BuzzBridgeStorage
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import TestSupport

/// A real server with a chosen ``SecurityConfiguration`` (HTTPS, limits, proxy trust), for the
/// security tests; requests go through a client that may trust a test certificate authority.
final class ConfiguredGateway: Sendable {
    /// The server, started the way every gateway test starts one.
    let server: TestGateway
    let client: HTTPClient

    var port: Int { server.port }
    var baseURL: String { server.baseURL }
    var store: SQLiteStore { server.store }
    var apiKey: String { server.apiKey }
    var adminToken: String { server.adminToken }
    var sessionID: String { server.sessionID }

    /// Redirects are not followed: the tests check them (the admin panel answers forms with 303).
    /// The clients live as long as the test process, so a failing test cannot leak one. Tests
    /// send up to 60 requests at once, each on a connection of its own, without queueing for one.
    static let plainClient = HTTPClient(
        eventLoopGroupProvider: .singleton,
        configuration: .init(
            redirectConfiguration: .disallow, timeout: .init(connect: .seconds(60)),
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        )
    )

    /// Trusts exactly the test certificate authority of ``TestCertificate/shared()``.
    private static let tlsClient = Task {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(try await TestCertificate.shared().certificate))
        configuration.tlsConfiguration = tls
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// HTTPS with ``TestCertificate/shared()``.
    static func testTLS() async throws -> SecurityConfiguration {
        let certificate = try await TestCertificate.shared()
        return SecurityConfiguration(tls: TLSFiles(certificateChainPath: certificate.certificate, privateKeyPath: certificate.key))
    }

    static func start(security: SecurityConfiguration = .init()) async throws -> ConfiguredGateway {
        let client = security.tls == nil ? plainClient : try await tlsClient.value
        return ConfiguredGateway(server: try await TestGateway.start(security: security), client: client)
    }

    private init(server: TestGateway, client: HTTPClient) {
        self.server = server
        self.client = client
    }

    func discard() async throws {
        try await server.discard()
    }

    /// `bearer: nil` sends no Authorization header; `url` overrides the scheme and host; `rawBody` goes
    /// out as it is, with the content type the caller sets.
    func request(
        _ method: HTTPMethod = .GET, _ path: String, bearer: String?, body: String? = nil, headers: [(String, String)] = [], url: String? = nil,
        rawBody: String? = nil
    ) async throws -> TestGateway.Reply {
        var request = HTTPClientRequest(url: (url ?? baseURL) + path)
        request.method = method
        if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        if let rawBody { request.body = .bytes(ByteBuffer(string: rawBody)) }
        // Generous: tests send dozens of requests at once on a loaded 2-core machine, and a request
        // that waits for a pooled connection counts that wait against this deadline.
        let response = try await client.execute(request, timeout: .seconds(120))
        let buffer = try await response.body.collect(upTo: 16 * 1024 * 1024)
        return TestGateway.Reply(
            status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) }, body: Data(buffer.readableBytesView))
    }
}

extension TestGateway.Reply {
    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

/// A self-signed certificate for 127.0.0.1 made with openssl, as docs/security.md shows;
/// one per test run.
struct TestCertificate: Sendable {
    let folder: String
    var certificate: String { folder + "/cert.pem" }
    var key: String { folder + "/key.pem" }

    private static let creation = Task { try await make() }

    static func shared() async throws -> TestCertificate {
        try await creation.value
    }

    private static func make() async throws -> TestCertificate {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let made = try await OpenSSL.run([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-keyout", folder + "/key.pem", "-out", folder + "/cert.pem", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ])
        guard made.status == 0 else { throw TestFailure("openssl req failed: \(made.output)") }
        return TestCertificate(folder: folder)
    }
}

/// Debian's `openssl` command.
enum OpenSSL {
    /// Runs `openssl` with `input` on standard input; returns its exit status and all output.
    static func run(_ arguments: [String], input: String = "") async throws -> (status: Int32, output: String) {
        let output = try await ChildProcess.run(URL(fileURLWithPath: "/usr/bin/openssl"), arguments: arguments, input: Data(input.utf8))
        return (output.status, output.text)
    }
}
