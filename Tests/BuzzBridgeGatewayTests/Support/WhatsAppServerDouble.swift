import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TestSupport

/// The WhatsApp server double (`Tests/peers/wa_server_double.py`) as a child process: its proxy,
/// CA file and Noise root for `buzzbridge serve`, and its control API (the phone). It serves until
/// its standard input closes.
final class WhatsAppServerDouble: @unchecked Sendable {
    struct Endpoints: Decodable {
        let proxyPort: Int
        let controlPort: Int
        let caFile: String
        let noiseRootPublicKey: String
        /// SOCKS5 (user "user", password "secret"; `POST /proxy {"socksRequireAuth": true}` makes them required).
        let socksPort: Int
    }

    let endpoints: Endpoints
    private let child: ServerDoubleProcess

    init() async throws {
        child = try await ServerDoubleProcess()
        endpoints = try JSONDecoder().decode(Endpoints.self, from: child.announcement)
    }

    /// The `serve` flags that make live sessions reach this double.
    var serveArguments: [String] {
        [
            "--wa-proxy", "http://127.0.0.1:\(endpoints.proxyPort)", "--wa-ca-file", endpoints.caFile, "--wa-noise-root-key",
            endpoints.noiseRootPublicKey,
        ]
    }

    func stop() async {
        await child.stop()
    }

    /// One control request; the HTTP status and the JSON answer.
    func call(_ method: HTTPMethod, _ path: String, _ body: [String: Any]? = nil) async throws -> (status: Int, json: [String: Any]) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(endpoints.controlPort)\(path)")
        request.method = method
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        }
        let response = try await TestGateway.client.execute(request, timeout: .seconds(60))
        let data = try await response.body.collect(upTo: 1 << 24)
        let json = (try? JSONSerialization.jsonObject(with: Data(data.readableBytesView))) as? [String: Any] ?? [:]
        return (Int(response.status.code), json)
    }

    @discardableResult
    func ok(_ method: HTTPMethod, _ path: String, _ body: [String: Any]? = nil) async throws -> [String: Any] {
        let (status, json) = try await call(method, path, body)
        guard status == 200 else { throw TestFailure("double \(method) \(path) → \(status) \(json)") }
        return json
    }

    func clients() async throws -> [[String: Any]] {
        try await ok(.GET, "/clients")["clients"] as? [[String: Any]] ?? []
    }

    func state() async throws -> [String: Any] {
        try await ok(.GET, "/state")
    }
}
