import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// HTTPS requests to WhatsApp's media hosts (`mmg.whatsapp.net`…), reached the way the chat
/// socket is: through the same proxy (HTTP CONNECT or SOCKS5, with credentials) and trusting the
/// same extra certificate authorities, with WhatsApp Web's `Origin` and `Referer` (whatsmeow
/// upload.go and download.go). Uploads (``post(host:port:target:contentLength:answerLimit:body:)``)
/// and downloads (``get(host:port:target:_:)``) share it.
///
/// Guarantees: one request per connection (`Connection: close`); a request body is written piece
/// by piece as the caller produces it, and an answer's body is read piece by piece as the caller
/// takes it, both with the channel's back-pressure, so a file of any size costs the memory of a
/// few pieces; a connection on which nothing is read or written for `idleTimeout`, or that is
/// still open `requestTimeout` after it was set up, is closed and the request fails with
/// ``MediaHostError/connectionFailed(host:reason:)``, so a host that stops or trickles never
/// holds a transfer for ever.
public struct MediaHostClient: Sendable {
    public static let whatsAppWebHeaders: [(name: String, value: String)] = [
        ("Origin", "https://web.whatsapp.com"), ("Referer", "https://web.whatsapp.com/"),
    ]

    public var proxy: ProxyConfiguration?
    /// A PEM file of certificate authorities trusted besides the system's.
    public var additionalTrustedCAFile: String?
    /// The hosts' port when a request names none.
    public var port: Int
    public var connectTimeout: TimeAmount
    /// How long the connection may go without a byte read or written.
    public var idleTimeout: TimeAmount
    /// How long one request may take in all, from the connection to the answer's end; nil: no limit
    /// but the idle timeout.
    public var requestTimeout: TimeAmount?
    public var eventLoopGroup: any EventLoopGroup

    public init(
        proxy: ProxyConfiguration?, additionalTrustedCAFile: String?, port: Int = 443, connectTimeout: TimeAmount = .seconds(20),
        idleTimeout: TimeAmount = .seconds(60), requestTimeout: TimeAmount? = nil,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.proxy = proxy
        self.additionalTrustedCAFile = additionalTrustedCAFile
        self.port = port
        self.connectTimeout = connectTimeout
        self.idleTimeout = idleTimeout
        self.requestTimeout = requestTimeout
        self.eventLoopGroup = eventLoopGroup
    }

    /// `POST https://host{target}` with a body of exactly `contentLength` bytes, written by `body`
    /// through the `write` function it is given.
    public func post(
        host: String, port: Int? = nil, target: String, contentLength: Int, answerLimit: Int = 64 * 1024,
        body: (_ write: (_ bytes: [UInt8]) async throws -> Void) async throws -> Void
    ) async throws -> MediaHostResponse {
        let port = port ?? self.port
        var headers = requestHeaders(host: host, port: port)
        headers.add(name: "Content-Type", value: "application/octet-stream")
        headers.add(name: "Content-Length", value: String(contentLength))
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: target, headers: headers)

        let closeReason = ConnectionCloseReason()
        let channel = try await connect(to: host, port: port, closeReason: closeReason)
        do {
            return try await channel.executeThenClose { inbound, outbound in
                // The answer is read while the request is written: a host may answer before the
                // request is whole (a refusal) and close, and then its answer is the outcome, not
                // the write that the close failed.
                async let answer = Self.response(from: inbound, host: host, limit: answerLimit)
                do {
                    try await outbound.write(.head(head))
                    try await body { bytes in try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: bytes)))) }
                    try await outbound.write(.end(nil))
                } catch  where Self.isConnectionFailure(error) {
                    // Closed by this client (idle, deadline): no answer is coming.
                    if let reason = closeReason.reason { throw reason }
                    guard let early = try? await answer else { throw error }
                    return early
                }
                return try await answer
            }
        } catch {
            throw closeReason.reason ?? MediaHostError.from(error, host: host)
        }
    }

    /// `GET https://host{target}`: `read` gets the answer's head and then its body as it arrives
    /// (whatever the status), and its result is the request's. The connection closes when `read`
    /// returns or throws; an error `read` throws comes out unchanged.
    public func get<Result: Sendable>(
        host: String, port: Int? = nil, target: String,
        _ read: (_ head: MediaHostResponseHead, _ body: MediaHostResponseBody) async throws -> Result
    ) async throws -> Result {
        let port = port ?? self.port
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target, headers: requestHeaders(host: host, port: port))
        let closeReason = ConnectionCloseReason()
        let channel = try await connect(to: host, port: port, closeReason: closeReason)
        do {
            return try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(.head(head))
                try await outbound.write(.end(nil))
                var parts = inbound.makeAsyncIterator()
                let answer = try await Self.finalHead(from: &parts, host: host)
                return try await read(
                    MediaHostResponseHead(status: Int(answer.status.code), headers: answer.headers),
                    MediaHostResponseBody(parts: parts, host: host, closeReason: closeReason))
            }
        } catch let error where Self.isConnectionFailure(error) || error is MediaHostError {
            throw closeReason.reason ?? MediaHostError.from(error, host: host)
        } catch {
            // What `read` threw of its own, unchanged.
            throw error
        }
    }

    /// The answer's head, past any interim (1xx) ones; the body's parts follow it in `parts`.
    private static func finalHead(
        from parts: inout NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator, host: String
    ) async throws -> HTTPResponseHead {
        while let part = try await parts.next() {
            guard case .head(let head) = part else { throw MediaHostError.connectionFailed(host: host, reason: "an answer without a head") }
            if head.status.code >= 200 { return head }
        }
        throw MediaHostError.connectionFailed(host: host, reason: "the connection closed before the answer")
    }

    private func requestHeaders(host: String, port: Int) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: port == 443 ? host : "\(host):\(port)")
        for (name, value) in Self.whatsAppWebHeaders { headers.add(name: name, value: value) }
        headers.add(name: "Connection", value: "close")
        return headers
    }

    /// The connection failed under a write (closed, reset, TLS, proxy), as opposed to the body's source.
    private static func isConnectionFailure(_ error: any Error) -> Bool {
        error is ChannelError || error is IOError || error is NIOSSLError || error is ProxyError
    }

    private static func response(
        from inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>, host: String, limit: Int
    ) async throws -> MediaHostResponse {
        var status: Int?
        var body = ByteBuffer()
        for try await part in inbound {
            switch part {
            case .head(let head):
                status = Int(head.status.code)
            case .body(var piece):
                guard body.readableBytes + piece.readableBytes <= limit else { throw MediaHostError.answerTooLarge(host: host, limit: limit) }
                body.writeBuffer(&piece)
            case .end:
                guard let status else { break }
                return MediaHostResponse(status: status, body: Data(body.readableBytesView))
            }
        }
        throw MediaHostError.connectionFailed(host: host, reason: "the connection closed before the answer was whole")
    }

    /// TCP to the proxy or the host → proxy tunnel → TLS (SNI: the host) → HTTP/1.1.
    private func connect(
        to host: String, port: Int, closeReason: ConnectionCloseReason
    ) async throws -> NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart> {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let additionalTrustedCAFile { tls.additionalTrustRoots = [.file(additionalTrustedCAFile)] }
        let sslContext = try NIOSSLContext(configuration: tls)
        let proxy = self.proxy
        let idleTimeout = self.idleTimeout
        let requestTimeout = self.requestTimeout
        do {
            return try await ClientBootstrap(group: eventLoopGroup)
                .connectTimeout(connectTimeout)
                .connect(host: proxy?.host ?? host, port: proxy?.port ?? port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        try pipeline.addHandler(IdleStateHandler(allTimeout: idleTimeout))
                        try pipeline.addHandler(IdleConnectionCloser(host: host, timeout: idleTimeout, closeReason: closeReason))
                        if let requestTimeout {
                            try pipeline.addHandler(RequestDeadlineHandler(host: host, timeout: requestTimeout, closeReason: closeReason))
                        }
                        if let proxy { try pipeline.addHandler(ProxyTunnelHandler(proxy: proxy, targetHost: host, targetPort: port)) }
                        try pipeline.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: host))
                        try pipeline.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw MediaHostError.connectionFailed(host: host, reason: "\(error)")
        }
    }
}
