import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import Synchronization

/// Where and how to open the WebSocket.
public struct WebSocketConfiguration: Sendable {
    /// WhatsApp Web's chat socket (whatsmeow socket/constants.go: URL).
    public static let whatsAppURL = URL(string: "wss://web.whatsapp.com/ws/chat")!

    /// The headers whatsmeow sends with the upgrade request (socket/framesocket.go:
    /// NewFrameSocket); WhatsApp expects WhatsApp Web's origin.
    public static let whatsAppWebHeaders: [(name: String, value: String)] = [
        ("Origin", "https://web.whatsapp.com"),
        ("Cache-Control", "no-cache"),
        ("Pragma", "no-cache"),
    ]

    public var url: URL
    /// Sent with the upgrade request.
    public var headers: [(name: String, value: String)]
    public var proxy: ProxyConfiguration?
    /// A PEM file of certificate authorities to trust besides the system's, e.g. a
    /// TLS-inspecting proxy's.
    public var additionalTrustedCAFile: String?
    /// The largest message accepted: frames carry up to 2^24 bytes plus their prefix.
    public var maximumMessageSize: Int

    public init(
        url: URL = WebSocketConfiguration.whatsAppURL,
        headers: [(name: String, value: String)] = WebSocketConfiguration.whatsAppWebHeaders,
        proxy: ProxyConfiguration? = nil,
        additionalTrustedCAFile: String? = nil,
        maximumMessageSize: Int = (1 << 24) + 16
    ) {
        self.url = url
        self.headers = headers
        self.proxy = proxy
        self.additionalTrustedCAFile = additionalTrustedCAFile
        self.maximumMessageSize = maximumMessageSize
    }
}

public enum WebSocketError: Error, Equatable, Sendable {
    case invalidURL
    case upgradeRefused
    case messageTooLarge
}

/// A WebSocket client connection carrying binary messages, optionally through a proxy and with
/// extra trusted CAs: the `MessageTransport` the live engine gives `NoiseSocket`.
public final class WebSocketTransport: MessageTransport {
    private let channel: any Channel
    private let messages: MessageQueue

    private enum Upgrade: Sendable {
        case upgraded
        case refused
    }

    public static func connect(
        _ configuration: WebSocketConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> WebSocketTransport {
        guard let scheme = configuration.url.scheme?.lowercased(), scheme == "wss" || scheme == "ws",
            let host = configuration.url.host, !host.isEmpty
        else { throw WebSocketError.invalidURL }
        let secure = scheme == "wss"
        let port = configuration.url.port ?? (secure ? 443 : 80)
        let path =
            (configuration.url.path.isEmpty ? "/" : configuration.url.path)
            + (configuration.url.query.map { "?" + $0 } ?? "")

        let sslContext: NIOSSLContext?
        if secure {
            var tls = TLSConfiguration.makeClientConfiguration()
            if let file = configuration.additionalTrustedCAFile {
                tls.additionalTrustRoots = [.file(file)]
            }
            sslContext = try NIOSSLContext(configuration: tls)
        } else {
            sslContext = nil
        }

        let messages = MessageQueue()
        let target = Target(host: host, port: port, path: path, explicitPort: configuration.url.port != nil)
        let channel = try await ClientBootstrap(group: eventLoopGroup)
            .connectTimeout(.seconds(20))
            .connect(host: configuration.proxy?.host ?? host, port: configuration.proxy?.port ?? port)
            .get()
        do {
            let upgrade = try await channel.eventLoop.submit {
                try configurePipeline(channel, configuration, target, sslContext, messages)
            }.get()
            guard case .upgraded = try await upgrade.get() else { throw WebSocketError.upgradeRefused }
        } catch {
            try? await channel.close()
            throw error
        }
        return WebSocketTransport(channel: channel, messages: messages)
    }

    private struct Target: Sendable {
        let host: String
        let port: Int
        let path: String
        let explicitPort: Bool
    }

    /// proxy tunnel → TLS → HTTP upgrade to WebSocket → `WebSocketMessageHandler`.
    private static func configurePipeline(
        _ channel: any Channel,
        _ configuration: WebSocketConfiguration,
        _ target: Target,
        _ sslContext: NIOSSLContext?,
        _ messages: MessageQueue
    ) throws -> EventLoopFuture<Upgrade> {
        let maximumMessageSize = configuration.maximumMessageSize
        let host = target.host
        let pipeline = channel.pipeline.syncOperations
        if let proxy = configuration.proxy {
            try pipeline.addHandler(ProxyTunnelHandler(proxy: proxy, targetHost: host, targetPort: target.port))
        }
        if let sslContext {
            try pipeline.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: host))
        }
        let upgrader = NIOTypedWebSocketClientUpgrader<Upgrade>(maxFrameSize: maximumMessageSize) { channel, _ in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(
                    WebSocketMessageHandler(messages: messages, maximumMessageSize: maximumMessageSize)
                )
                return .upgraded
            }
        }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: target.explicitPort ? "\(host):\(target.port)" : host)
        for (name, value) in configuration.headers { headers.add(name: name, value: value) }
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target.path, headers: headers)
        let upgradeConfiguration = NIOTypedHTTPClientUpgradeConfiguration<Upgrade>(
            upgradeRequestHead: head,
            upgraders: [upgrader],
            notUpgradingCompletionHandler: { channel in channel.eventLoop.makeSucceededFuture(.refused) }
        )
        return try pipeline.configureUpgradableHTTPClientPipeline(configuration: .init(upgradeConfiguration: upgradeConfiguration))
    }

    private init(channel: any Channel, messages: MessageQueue) {
        self.channel = channel
        self.messages = messages
    }

    public func send(_ message: Data) async throws {
        let frame = WebSocketFrame(fin: true, opcode: .binary, maskKey: .random(), data: ByteBuffer(bytes: message))
        try await channel.writeAndFlush(frame)
    }

    public func receive() async throws -> Data? {
        try await messages.next()
    }

    public func close() async {
        let frame = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: ByteBuffer(bytes: [0x03, 0xE8]))
        try? await channel.writeAndFlush(frame)
        try? await channel.close()
    }
}

/// Complete binary messages handed from the channel to the one reader awaiting them.
final class MessageQueue: Sendable {
    private struct State {
        var buffered: [Data] = []
        var waiter: CheckedContinuation<Data?, any Error>?
        var end: Result<Void, any Error>?
    }

    private let state = Mutex(State())

    func yield(_ message: Data) {
        let waiter = state.withLock { state -> CheckedContinuation<Data?, any Error>? in
            guard state.end == nil else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.buffered.append(message)
            return nil
        }
        waiter?.resume(returning: message)
    }

    func finish(throwing error: (any Error)? = nil) {
        let waiter = state.withLock { state -> CheckedContinuation<Data?, any Error>? in
            guard state.end == nil else { return nil }
            state.end = error.map { .failure($0) } ?? .success(())
            defer { state.waiter = nil }
            return state.waiter
        }
        if let error { waiter?.resume(throwing: error) } else { waiter?.resume(returning: nil) }
    }

    /// The next message; nil once finished and drained. Meant for one reader at a time.
    func next() async throws -> Data? {
        try await withCheckedThrowingContinuation { continuation in
            let ready = state.withLock { state -> Result<Data?, any Error>? in
                if !state.buffered.isEmpty { return .success(state.buffered.removeFirst()) }
                switch state.end {
                case .success: return .success(nil)
                case .failure(let error): return .failure(error)
                case nil:
                    state.waiter = continuation
                    return nil
                }
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}

/// Joins fragmented binary messages, answers pings and the server's close.
final class WebSocketMessageHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let messages: MessageQueue
    private let maximumMessageSize: Int
    private var fragments: ByteBuffer?

    init(messages: MessageQueue, maximumMessageSize: Int) {
        self.messages = messages
        self.maximumMessageSize = maximumMessageSize
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .binary, .text, .continuation:
            var data = frame.unmaskedData
            if frame.opcode != .continuation { fragments = nil }
            var message = fragments ?? context.channel.allocator.buffer(capacity: data.readableBytes)
            message.writeBuffer(&data)
            guard message.readableBytes <= maximumMessageSize else {
                messages.finish(throwing: WebSocketError.messageTooLarge)
                context.close(promise: nil)
                return
            }
            if frame.fin {
                fragments = nil
                messages.yield(Data(message.readableBytesView))
            } else {
                fragments = message
            }
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            let close = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: frame.unmaskedData)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(close)).whenComplete { _ in channel.close(promise: nil) }
            messages.finish()
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        messages.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        messages.finish(throwing: error)
        context.close(promise: nil)
    }
}
