import Crypto
import Foundation

/// What the stream needs from a WebSocket: whole binary messages in and out. The live engine
/// provides one over `wss://web.whatsapp.com/ws/chat` (see docs/protocol.md).
public protocol MessageTransport: Sendable {
    func send(_ message: Data) async throws
    /// The next message received, or nil once the connection is closed.
    func receive() async throws -> Data?
    func close() async
}

/// An encrypted WhatsApp stream over a `MessageTransport`: performs the Noise handshake, then
/// sends and receives binary nodes, one frame each.
public actor NoiseSocket {
    public enum Failure: Error, Equatable, Sendable {
        case closedDuringHandshake
        case handshakeTimedOut
        case handshake(NoiseClientHandshake.Failure)
        case frame(FrameError)
        case transport(NoiseError)
        case node(BinaryDecoder.Failure)
        case encoding(BinaryEncoder.Failure)
    }

    private let transport: any MessageTransport
    private var frames: FrameEncoder
    private var incoming: FrameDecoder
    private var ciphers: NoiseTransport
    /// The transport write of the last frame encrypted. Each write waits for the one before:
    /// frames are encrypted in call order (the counter is the nonce), and an actor method that
    /// awaits the transport lets the next call run, whose write could otherwise overtake it.
    private var lastWrite: Task<Void, any Error>?
    /// The server's Noise static key, verified against its certificate chain.
    public nonisolated let serverStaticKey: Data

    /// How long whatsmeow waits for the server hello (handshake.go: NoiseHandshakeResponseTimeout).
    public static let defaultHandshakeTimeout: Duration = .seconds(20)

    /// Opens the stream: sends the connection header and client hello, verifies the server
    /// hello, and sends `clientPayload` (a serialized `WAClientPayload`) in the client finish.
    /// The transport is closed if the handshake fails or takes longer than `timeout`.
    public static func connect(
        over transport: any MessageTransport,
        noiseKey: Curve25519.KeyAgreement.PrivateKey,
        clientPayload: Data,
        certificateVerifier: ServerCertificateVerifier = .whatsApp,
        now: Date = Date(),
        timeout: Duration = defaultHandshakeTimeout
    ) async throws -> NoiseSocket {
        try await withThrowingTaskGroup(of: NoiseSocket?.self) { group in
            group.addTask {
                try await handshake(
                    over: transport, noiseKey: noiseKey, clientPayload: clientPayload, certificateVerifier: certificateVerifier, now: now)
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            if let socket = try await group.next() ?? nil { return socket }
            // Closing the transport ends the handshake's pending receive.
            await transport.close()
            throw Failure.handshakeTimedOut
        }
    }

    private static func handshake(
        over transport: any MessageTransport,
        noiseKey: Curve25519.KeyAgreement.PrivateKey,
        clientPayload: Data,
        certificateVerifier: ServerCertificateVerifier,
        now: Date
    ) async throws -> NoiseSocket {
        var frames = FrameEncoder()
        var incoming = FrameDecoder()
        var handshake = NoiseClientHandshake(
            staticKey: noiseKey,
            prologue: ConnectionHeader.bytes,
            certificateVerifier: certificateVerifier
        )
        do {
            try await transport.send(try frames.encode(try handshake.clientHello()))
            let serverHello = try await nextFrame(from: transport, decoder: &incoming)
            try handshake.readServerHello(serverHello, now: now)
            let (finish, ciphers) = try handshake.clientFinish(payload: clientPayload)
            try await transport.send(try frames.encode(finish))
            return NoiseSocket(
                transport: transport,
                frames: frames,
                incoming: incoming,
                ciphers: ciphers,
                serverStaticKey: handshake.serverStaticKey ?? Data()
            )
        } catch let failure as NoiseClientHandshake.Failure {
            await transport.close()
            throw Failure.handshake(failure)
        } catch {
            await transport.close()
            throw error
        }
    }

    init(transport: any MessageTransport, frames: FrameEncoder, incoming: FrameDecoder, ciphers: NoiseTransport, serverStaticKey: Data) {
        self.transport = transport
        self.frames = frames
        self.incoming = incoming
        self.ciphers = ciphers
        self.serverStaticKey = serverStaticKey
    }

    /// Encrypts and sends one node.
    public func send(_ node: BinaryNode) async throws {
        let plaintext: Data
        do { plaintext = try BinaryEncoder().encodeFrame(node) } catch { throw Failure.encoding(error) }
        try await sendFrame(plaintext)
    }

    /// Encrypts and sends one frame's plaintext (flag byte and node bytes). Frames reach the
    /// transport in the order of the calls, however many run at once. Once encrypted, a frame
    /// is written even if the caller is cancelled: skipping it would break every later nonce.
    public func sendFrame(_ plaintext: Data) async throws {
        let frame: Data
        do {
            frame = try frames.encode(try ciphers.encrypt(plaintext))
        } catch let error as NoiseError {
            throw Failure.transport(error)
        } catch let error as FrameError {
            throw Failure.frame(error)
        }
        let previous = lastWrite
        let transport = transport
        let write = Task {
            _ = await previous?.result
            try await transport.send(frame)
        }
        lastWrite = write
        try await write.value
    }

    /// The next node from the server, or nil once the connection is closed.
    public func receive() async throws -> BinaryNode? {
        guard let frame = try await receiveFrame() else { return nil }
        do { return try BinaryDecoder().decodeFrame(frame) } catch { throw Failure.node(error) }
    }

    /// The next decrypted frame (flag byte and node bytes), or nil once the connection is closed.
    public func receiveFrame() async throws -> Data? {
        while true {
            if let ciphertext = incoming.nextFrame() {
                do { return try ciphers.decrypt(ciphertext) } catch { throw Failure.transport(error) }
            }
            guard let message = try await transport.receive() else { return nil }
            incoming.append(message)
        }
    }

    public func close() async {
        await transport.close()
    }

    private static func nextFrame(from transport: any MessageTransport, decoder: inout FrameDecoder) async throws -> Data {
        while true {
            if let frame = decoder.nextFrame() { return frame }
            guard let message = try await transport.receive() else { throw Failure.closedDuringHandshake }
            decoder.append(message)
        }
    }
}
