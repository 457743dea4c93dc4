import Crypto
import Foundation
import TestSupport
import Testing

@testable import WhatsAppProtocol

/// `Tests/peers/wa_ws_server.py`: a TLS WebSocket server (PyPI `websockets`) speaking the
/// Noise frame protocol of the Python server, behind an HTTP CONNECT and a SOCKS5 proxy.
final class LocalWhatsAppServer: @unchecked Sendable {
    let wsPort: Int
    let httpProxyPort: Int
    let socksPort: Int
    let caFile: String
    let seed: String
    let now: Int
    private let process: Process
    private let input: Pipe

    init(seed: String, greeting: BinaryNode) async throws {
        let now = Int(Date().timeIntervalSince1970)
        let config: [String: Any] = ["seed": seed, "now": now, "serverFrames": [try BinaryEncoder().encodeFrame(greeting).hex], "echo": 1]
        let process = Process(), input = Pipe(), output = Pipe()
        process.executableURL = try PythonPeer.interpreter
        process.arguments = [
            PythonPeer.repositoryRoot.appendingPathComponent("Tests/peers/wa_ws_server.py").path,
            String(decoding: try JSONSerialization.data(withJSONObject: config), as: UTF8.self),
        ]
        process.environment = PythonPeer.environment
        process.standardInput = input
        process.standardOutput = output
        try ChildProcess.launch(process)
        let line = await BlockingWork.run {
            var data = Data()
            while !data.contains(0x0A) {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                data += chunk
            }
            return data
        }
        let info = try #require(try JSONSerialization.jsonObject(with: line) as? [String: Any])
        wsPort = try #require(info["wsPort"] as? Int)
        httpProxyPort = try #require(info["httpProxyPort"] as? Int)
        socksPort = try #require(info["socksPort"] as? Int)
        caFile = try #require(info["caFile"] as? String)
        self.seed = seed
        self.now = now
        self.process = process
        self.input = input
    }

    /// The server exits when its standard input ends; one that does not is killed.
    func stop() async {
        try? input.fileHandleForWriting.close()
        if await ChildProcess.waitForExit(process, within: .seconds(10)) { return }
        await ChildProcess.kill(process)
    }

    deinit {
        // A test that failed before stop() must not leave the server running.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    func rootKey() async throws -> Curve25519.KeyAgreement.PublicKey {
        try await NoiseHandshakeTests.Server(seed: seed, certificate: "valid").rootKey()
    }
}

@Suite struct WebSocketTransportTests {
    static let greeting = BinaryNode(tag: "iq", attributes: ["from": .jid(.server), "id": "1", "type": "get"], children: [BinaryNode(tag: "ping")])

    /// Connects, completes the Noise handshake, receives the server's node and gets an echo back.
    static func exchange(_ server: LocalWhatsAppServer, _ configuration: WebSocketConfiguration) async throws {
        let transport = try await WebSocketTransport.connect(configuration)
        let credentials = DeviceCredentials.generate()
        let socket = try await NoiseSocket.connect(
            over: transport,
            noiseKey: credentials.noiseKey,
            clientPayload: try ClientPayloads.registration(credentials: credentials, companion: .init(osName: "BuzzBridge")).serializedData(),
            certificateVerifier: .insecureTestingRoot(try await server.rootKey()),
            now: Date(timeIntervalSince1970: TimeInterval(server.now))
        )
        #expect(try await socket.receive() == greeting)
        // Larger than NIO's default 16 KiB frame limit; below noiseprotocol's 64 KiB message limit.
        let reply = BinaryNode(
            tag: "iq", attributes: ["to": .jid(.server), "id": "1", "type": "result"], content: .bytes(Data(repeating: 7, count: 60_000)))
        try await socket.send(reply)
        #expect(try await socket.receive() == reply)
        await socket.close()
    }

    @Test func directOverTLSWithAnExtraCA() async throws {
        let server = try await LocalWhatsAppServer(seed: "ws-direct", greeting: Self.greeting)
        try await Self.exchange(
            server,
            WebSocketConfiguration(
                url: URL(string: "wss://localhost:\(server.wsPort)/ws/chat")!,
                additionalTrustedCAFile: server.caFile
            ))
        await server.stop()
    }

    @Test func throughAnHTTPConnectProxy() async throws {
        let server = try await LocalWhatsAppServer(seed: "ws-http-proxy", greeting: Self.greeting)
        // web.whatsapp.test does not resolve: only the proxy can reach it.
        try await Self.exchange(
            server,
            WebSocketConfiguration(
                url: URL(string: "wss://web.whatsapp.test:\(server.wsPort)/ws/chat")!,
                proxy: .httpConnect(host: "127.0.0.1", port: server.httpProxyPort),
                additionalTrustedCAFile: server.caFile
            ))
        await server.stop()
    }

    @Test func throughASOCKS5ProxyWithPassword() async throws {
        let server = try await LocalWhatsAppServer(seed: "ws-socks", greeting: Self.greeting)
        try await Self.exchange(
            server,
            WebSocketConfiguration(
                url: URL(string: "wss://web.whatsapp.test:\(server.wsPort)/ws/chat")!,
                proxy: .socks5(host: "127.0.0.1", port: server.socksPort, credentials: ProxyCredentials(username: "user", password: "secret")),
                additionalTrustedCAFile: server.caFile
            ))
        await server.stop()
    }

    @Test func refusals() async throws {
        let server = try await LocalWhatsAppServer(seed: "ws-refusals", greeting: Self.greeting)
        let url = URL(string: "wss://localhost:\(server.wsPort)/ws/chat")!
        // Without the extra CA the server's certificate is not trusted.
        await #expect(throws: (any Error).self) { try await WebSocketTransport.connect(WebSocketConfiguration(url: url)) }
        // The server refuses an upgrade without WhatsApp Web's Origin.
        await #expect(throws: WebSocketError.upgradeRefused) {
            try await WebSocketTransport.connect(WebSocketConfiguration(url: url, headers: [], additionalTrustedCAFile: server.caFile))
        }
        await #expect(throws: ProxyError.authenticationRequired) {
            try await WebSocketTransport.connect(
                WebSocketConfiguration(
                    url: URL(string: "wss://web.whatsapp.test:\(server.wsPort)/ws/chat")!,
                    proxy: .socks5(host: "127.0.0.1", port: server.socksPort, credentials: ProxyCredentials(username: "user", password: "wrong")),
                    additionalTrustedCAFile: server.caFile
                ))
        }
        await server.stop()
    }
}
