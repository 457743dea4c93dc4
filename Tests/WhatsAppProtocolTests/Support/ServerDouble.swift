import Foundation
import TestSupport

@testable import WhatsAppProtocol

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The WhatsApp server double (Tests/peers/wa_server_double.py) as a child process, with its
/// control API. It serves until its standard input closes.
final class ServerDouble: @unchecked Sendable {
    struct Endpoints: Decodable {
        let proxyPort: Int
        let wsPort: Int
        let controlPort: Int
        let caFile: String
        let noiseRootPublicKey: String
        /// SOCKS5 (user "user", password "secret", or no auth unless `POST /proxy` requires it).
        let socksPort: Int
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let endpoints: Endpoints
    private let child: ServerDoubleProcess

    init() async throws {
        child = try await ServerDoubleProcess()
        endpoints = try JSONDecoder().decode(Endpoints.self, from: child.announcement)
    }

    func stop() async {
        await child.stop()
    }

    /// Client options that reach the double: its CONNECT proxy, its CA, its Noise root.
    func options(pushName: String? = "BuzzBridge Test", keepAlive: KeepAlive.Timing = .whatsmeow) -> WhatsAppClientOptions {
        WhatsAppClientOptions(
            proxy: .httpConnect(host: "127.0.0.1", port: endpoints.proxyPort),
            additionalTrustedCAFile: endpoints.caFile,
            noiseRootKeyOverride: Data(hex: endpoints.noiseRootPublicKey),
            pushName: pushName,
            keepAlive: keepAlive
        )
    }

    /// One control request; the JSON answer and the HTTP status.
    func call(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> (status: Int, json: [String: Any]) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(endpoints.controlPort)\(path)")!)
        request.httpMethod = method
        request.timeoutInterval = 60
        if let body {
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, json)
    }

    /// A control request that must succeed.
    @discardableResult
    func ok(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> [String: Any] {
        let (status, json) = try await call(method, path, body)
        guard status == 200 else { throw Failure(description: "\(method) \(path) → \(status) \(json)") }
        return json
    }

    func clients() async throws -> [[String: Any]] {
        try await ok("GET", "/clients")["clients"] as? [[String: Any]] ?? []
    }

    func devices() async throws -> [[String: Any]] {
        try await ok("GET", "/state")["devices"] as? [[String: Any]] ?? []
    }

    /// Polls `condition` until it holds or `timeout` passes.
    func eventually(_ what: String, within timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failure(description: "timed out waiting for \(what)")
    }

    /// Compares connection `conn`'s stanzas with a neonize recording; the problems, empty when they match.
    func compare(conn: Int, recording: String, role: String, mode: String = "in-order") async throws -> [String] {
        let answer = try await ok("POST", "/transcript/compare", ["conn": conn, "recording": recording, "role": role, "mode": mode])
        return (answer["match"] as? Bool == true) ? [] : (answer["problems"] as? [String] ?? ["no answer"]) + ["actual: \(answer["actual"] ?? "")"]
    }

    func transcript(conn: Int) async throws -> [[String: Any]] {
        let answer = try await ok("GET", "/transcript?conn=\(conn)")
        return ((answer["connections"] as? [[String: Any]])?.first?["entries"] as? [[String: Any]]) ?? []
    }
}

/// Every event a client emitted, in order, awaited one match at a time.
actor EventLog {
    private(set) var events: [ClientEvent] = []
    private var cursor = 0
    private var task: Task<Void, Never>?

    init(_ client: WhatsAppClient) {
        let stream = client.events
        Task { await self.follow(stream) }
    }

    private func follow(_ stream: AsyncStream<ClientEvent>) async {
        for await event in stream { events.append(event) }
    }

    /// The first event after the previous match that satisfies `predicate`. The default wait is
    /// long: in a full run on two cores, a client that starts beside dozens of peers once saw no
    /// event for 30 s (the double and the Noise handshake start after everything queued before).
    @discardableResult
    func next(_ what: String, within timeout: Duration = .seconds(90), _ predicate: (ClientEvent) -> Bool) async throws -> ClientEvent {
        let deadline = ContinuousClock.now + timeout
        while true {
            while cursor < events.count {
                let event = events[cursor]
                cursor += 1
                if predicate(event) { return event }
            }
            guard ContinuousClock.now < deadline else {
                throw ServerDouble.Failure(description: "no \(what) within \(timeout); events: \(events)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func all() -> [ClientEvent] { events }
}
