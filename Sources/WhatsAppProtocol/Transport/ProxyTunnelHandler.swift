import Foundation
import NIOCore

/// A proxy the WebSocket connection goes through.
public enum ProxyConfiguration: Sendable, Hashable {
    /// An HTTP proxy that accepts `CONNECT host:port`.
    case httpConnect(host: String, port: Int, credentials: ProxyCredentials? = nil)
    /// A SOCKS5 proxy (RFC 1928), with username/password authentication (RFC 1929) if given.
    case socks5(host: String, port: Int, credentials: ProxyCredentials? = nil)

    var host: String {
        switch self {
        case .httpConnect(let host, _, _), .socks5(let host, _, _): host
        }
    }

    var port: Int {
        switch self {
        case .httpConnect(_, let port, _), .socks5(_, let port, _): port
        }
    }
}

public struct ProxyCredentials: Sendable, Hashable {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }
}

public enum ProxyError: Error, Equatable, Sendable {
    case refused(String)
    case malformedReply
    case authenticationRequired
    case closed
}

/// Opens a tunnel through a proxy at the start of the connection, before TLS. Writes from the
/// handlers above it (the TLS handshake) wait until the tunnel stands, then it leaves the pipeline.
final class ProxyTunnelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case idle
        case awaitingHTTPResponse
        case awaitingSOCKSMethod
        case awaitingSOCKSAuthentication
        case awaitingSOCKSConnect
        case established
        case failed
    }

    private let proxy: ProxyConfiguration
    private let targetHost: String
    private let targetPort: Int
    private var state = State.idle
    private var received: ByteBuffer?
    private var pendingWrites: [(NIOAny, EventLoopPromise<Void>?)] = []

    init(proxy: ProxyConfiguration, targetHost: String, targetPort: Int) {
        self.proxy = proxy
        self.targetHost = targetHost
        self.targetPort = targetPort
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        pendingWrites.append((data, promise))
    }

    func flush(context: ChannelHandlerContext) {}

    func channelInactive(context: ChannelHandlerContext) {
        if case .established = state {} else { fail(context: context, .closed) }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if var pending = received {
            pending.writeBuffer(&bytes)
            received = pending
        } else {
            received = bytes
        }
        do {
            try advance(context: context)
        } catch let error as ProxyError {
            fail(context: context, error)
        } catch {
            fail(context: context, .malformedReply)
        }
    }

    private func start(context: ChannelHandlerContext) {
        guard case .idle = state else { return }
        switch proxy {
        case .httpConnect(_, _, let credentials):
            var request = "CONNECT \(targetHost):\(targetPort) HTTP/1.1\r\nHost: \(targetHost):\(targetPort)\r\n"
            if let credentials {
                let token = Data("\(credentials.username):\(credentials.password)".utf8).base64EncodedString()
                request += "Proxy-Authorization: Basic \(token)\r\n"
            }
            request += "\r\n"
            state = .awaitingHTTPResponse
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: request)), promise: nil)
        case .socks5(_, _, let credentials):
            // Version 5, offering "no authentication" or, with credentials, username/password.
            let methods: [UInt8] = credentials == nil ? [0x00] : [0x02]
            state = .awaitingSOCKSMethod
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: [0x05, UInt8(methods.count)] + methods)), promise: nil)
        }
    }

    private func advance(context: ChannelHandlerContext) throws {
        guard var buffer = received else { return }
        switch state {
        case .awaitingHTTPResponse:
            let view = buffer.readableBytesView
            guard let end = view.firstRange(of: [13, 10, 13, 10]) else { return }
            let headLength = end.upperBound - view.startIndex
            let head = buffer.readString(length: headLength) ?? ""
            let statusLine = head.split(separator: "\r\n").first ?? ""
            let parts = statusLine.split(separator: " ")
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/1.") else { throw ProxyError.malformedReply }
            guard parts[1] == "200" else {
                throw parts[1] == "407" ? ProxyError.authenticationRequired : ProxyError.refused(String(statusLine))
            }
            received = buffer
            established(context: context)
        case .awaitingSOCKSMethod:
            guard let reply = buffer.readBytes(length: 2) else { return }
            received = buffer
            guard reply[0] == 0x05 else { throw ProxyError.malformedReply }
            switch (reply[1], proxy) {
            case (0x00, _):
                sendSOCKSConnect(context: context)
            case (0x02, .socks5(_, _, let credentials?)):
                let user = Array(credentials.username.utf8.prefix(255)), password = Array(credentials.password.utf8.prefix(255))
                state = .awaitingSOCKSAuthentication
                let message = [0x01, UInt8(user.count)] + user + [UInt8(password.count)] + password
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: message)), promise: nil)
            default:
                throw ProxyError.authenticationRequired
            }
            try advance(context: context)
        case .awaitingSOCKSAuthentication:
            guard let reply = buffer.readBytes(length: 2) else { return }
            received = buffer
            guard reply[1] == 0x00 else { throw ProxyError.authenticationRequired }
            sendSOCKSConnect(context: context)
            try advance(context: context)
        case .awaitingSOCKSConnect:
            // VER REP RSV ATYP BND.ADDR BND.PORT; the address length depends on ATYP.
            guard buffer.readableBytes >= 5, let header = buffer.getBytes(at: buffer.readerIndex, length: 5) else { return }
            guard header[0] == 0x05 else { throw ProxyError.malformedReply }
            guard header[1] == 0x00 else { throw ProxyError.refused("SOCKS reply \(header[1])") }
            let addressLength: Int
            switch header[3] {
            case 0x01: addressLength = 4
            case 0x03: addressLength = 1 + Int(header[4])
            case 0x04: addressLength = 16
            default: throw ProxyError.malformedReply
            }
            guard buffer.readableBytes >= 4 + addressLength + 2 else { return }
            buffer.moveReaderIndex(forwardBy: 4 + addressLength + 2)
            received = buffer
            established(context: context)
        case .idle, .established, .failed:
            return
        }
    }

    private func sendSOCKSConnect(context: ChannelHandlerContext) {
        let host = Array(targetHost.utf8.prefix(255))
        let request = [0x05, 0x01, 0x00, 0x03, UInt8(host.count)] + host + [UInt8(targetPort >> 8 & 0xFF), UInt8(targetPort & 0xFF)]
        state = .awaitingSOCKSConnect
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: request)), promise: nil)
    }

    private func established(context: ChannelHandlerContext) {
        state = .established
        let writes = pendingWrites
        pendingWrites = []
        for (data, promise) in writes { context.write(data, promise: promise) }
        context.flush()
        if let leftover = received, leftover.readableBytes > 0 {
            context.fireChannelRead(wrapInboundOut(leftover))
        }
        received = nil
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    private func fail(context: ChannelHandlerContext, _ error: ProxyError) {
        if case .failed = state { return }
        state = .failed
        let writes = pendingWrites
        pendingWrites = []
        for (_, promise) in writes { promise?.fail(error) }
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }
}
