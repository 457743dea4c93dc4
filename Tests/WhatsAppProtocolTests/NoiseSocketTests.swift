import Crypto
import Foundation
import TestSupport
import Testing

@testable import WhatsAppProtocol

/// The Python server's stdin/stdout as the WebSocket: the bytes arrive in whatever chunks the
/// pipe delivers, so frames are split and joined as they would be across WebSocket messages.
final class ProcessTransport: MessageTransport, @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let errors = Pipe()

    init(script: String, arguments: [String]) throws {
        // A peer that died must surface as a write error, not kill the test runner.
        signal(SIGPIPE, SIG_IGN)
        process.executableURL = try PythonPeer.interpreter
        process.arguments = [PythonPeer.repositoryRoot.appendingPathComponent("Tests/peers/\(script)").path] + arguments
        process.environment = PythonPeer.environment
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try ChildProcess.launch(process)
    }

    func send(_ message: Data) async throws {
        try input.fileHandleForWriting.write(contentsOf: message)
    }

    func receive() async throws -> Data? {
        let handle = output.fileHandleForReading
        return await BlockingWork.run {
            let data = handle.availableData
            return data.isEmpty ? nil : data
        }
    }

    func close() async {
        try? input.fileHandleForWriting.close()
    }

    /// Waits for the peer to exit and returns its status and standard error.
    func finish() async -> (status: Int32, stderr: String) {
        let process = process, errors = errors
        return await BlockingWork.run {
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (process.terminationStatus, text)
        }
    }
}

@Suite struct NoiseSocketTests {
    @Test func streamWithThePythonServer() async throws {
        let server = NoiseHandshakeTests.Server(seed: "stream-\(UUID())", certificate: "valid")
        let root = try await server.rootKey()
        let greeting = BinaryNode(tag: "iq", attributes: ["from": .jid(.server), "id": "42", "type": "get"], children: [BinaryNode(tag: "ping")])
        let config: [String: Any] = [
            "seed": server.seed, "now": server.now,
            "serverFrames": [BaileysVectors.compressedFrame, try BinaryEncoder().encodeFrame(greeting).hex],
            "echo": 1,
        ]
        let transport = try ProcessTransport(
            script: "wa_noise_server.py",
            arguments: ["stream", String(decoding: try JSONSerialization.data(withJSONObject: config), as: UTF8.self)]
        )
        let credentials = DeviceCredentials.generate()
        let payload = try ClientPayloads.registration(credentials: credentials, companion: CompanionDescription(osName: "BuzzBridge"))
            .serializedData()
        let socket = try await NoiseSocket.connect(
            over: transport,
            noiseKey: credentials.noiseKey,
            clientPayload: payload,
            certificateVerifier: .insecureTestingRoot(root)
        )

        let success = try await socket.receive()
        #expect(success?.tag == "success")
        #expect(success?.attributes.jid("lid") == .lid("203123456789012"))
        #expect(try await socket.receive() == greeting)
        let reply = BinaryNode(tag: "iq", attributes: ["to": .jid(.server), "id": "42", "type": "result"])
        try await socket.send(reply)
        #expect(try await socket.receive() == reply)
        await socket.close()
        #expect(try await socket.receive() == nil)

        let (status, stderr) = await transport.finish()
        #expect(status == 0, "\(stderr)")
        #expect(stderr.contains(payload.hex))
    }

    @Test func handshakeRefusedOverTheStream() async throws {
        let server = NoiseHandshakeTests.Server(seed: "stream-refused", certificate: "wrong-leaf-key")
        let root = try await server.rootKey()
        let config: [String: Any] = ["seed": server.seed, "now": server.now, "cert": "wrong-leaf-key"]
        let transport = try ProcessTransport(
            script: "wa_noise_server.py",
            arguments: ["stream", String(decoding: try JSONSerialization.data(withJSONObject: config), as: UTF8.self)]
        )
        await #expect(throws: NoiseSocket.Failure.handshake(.certificate(.leafKeyMismatch))) {
            try await NoiseSocket.connect(over: transport, noiseKey: .init(), clientPayload: Data(), certificateVerifier: .insecureTestingRoot(root))
        }
        // The client hung up instead of finishing, so the server saw the stream end.
        #expect(await transport.finish().status != 0)
    }

    /// A server that accepts the connection and never answers.
    final class SilentTransport: MessageTransport {
        private let messages = MessageQueue()
        func send(_ message: Data) async throws {}
        func receive() async throws -> Data? { try await messages.next() }
        func close() async { messages.finish() }
    }

    @Test func handshakeTimesOut() async throws {
        await #expect(throws: NoiseSocket.Failure.handshakeTimedOut) {
            try await NoiseSocket.connect(over: SilentTransport(), noiseKey: .init(), clientPayload: Data(), timeout: .milliseconds(50))
        }
    }
}

/// A transport whose writes take a random while, as a busy event loop's do: a later write can
/// finish first unless the socket orders them.
final class JitteryTransport: MessageTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var written: [Data] = []

    var messages: [Data] { lock.withLock { written } }

    func send(_ message: Data) async throws {
        try await Task.sleep(for: .microseconds(Int.random(in: 0...400)))
        lock.withLock { written.append(message) }
    }

    func receive() async throws -> Data? { nil }
    func close() async {}
}

@Suite struct NoiseSocketOrderTests {
    @Test func concurrentSendsReachTheTransportInCounterOrder() async throws {
        let key = Data((0..<32).map { _ in UInt8.random(in: .min ... .max) })
        let transport = JitteryTransport()
        let socket = NoiseSocket(
            transport: transport,
            frames: FrameEncoder(),
            incoming: FrameDecoder(),
            ciphers: NoiseTransport(sender: NoiseCipherState(key: key), receiver: NoiseCipherState(key: key)),
            serverStaticKey: Data()
        )
        let count = 300
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<count {
                group.addTask { try? await socket.sendFrame(Data("frame \(index)".utf8)) }
            }
        }
        let messages = transport.messages
        #expect(messages.count == count)
        // The receiver decrypts with counters 0, 1, 2…: any frame out of order fails to open.
        var decoder = FrameDecoder()
        var receiver = NoiseCipherState(key: key)
        var opened = 0
        for (index, message) in messages.enumerated() {
            decoder.append(index == 0 ? message.dropFirst(ConnectionHeader.bytes.count) : message)
            while let frame = decoder.nextFrame() {
                #expect(throws: Never.self) { _ = try receiver.decrypt(frame) }
                opened += 1
            }
        }
        #expect(opened == count)
        #expect(messages.first?.prefix(4) == ConnectionHeader.bytes)
    }
}
