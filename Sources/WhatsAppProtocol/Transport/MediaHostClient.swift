import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// What a media host answered: the status and a small body (JSON for uploads).
public struct MediaHostResponse: Sendable, Equatable {
    public var status: Int
    public var body: Data
}

/// Why a request to a media host did not get an answer.
public enum MediaHostError: Error, Sendable, Equatable {
    /// No connection (DNS, TCP, proxy, TLS) or it broke before the answer was whole.
    case connectionFailed(host: String, reason: String)
    /// The answer's body is larger than the caller accepts.
    case answerTooLarge(host: String, limit: Int)
}

/// HTTPS requests to WhatsApp's media hosts (`mmg.whatsapp.net`…), reached the way the chat
/// socket is: through the same proxy (HTTP CONNECT or SOCKS5) and trusting the same extra
/// certificate authorities, with WhatsApp Web's `Origin` and `Referer` (whatsmeow upload.go).
///
/// Guarantees: one request per connection (`Connection: close`); the request body is written
/// piece by piece as the caller produces it, with the channel's back-pressure, so a file of any
/// size costs the memory of one piece; the answer is read up to `answerLimit` bytes; a connection
/// on which nothing is read or written for `idleTimeout` is closed and the request fails with
/// ``MediaHostError/connectionFailed(host:reason:)``, so a host that stops answering never holds
/// a send for ever.
public struct MediaHostClient: Sendable {
    public static let whatsAppWebHeaders: [(name: String, value: String)] = [
        ("Origin", "https://web.whatsapp.com"), ("Referer", "https://web.whatsapp.com/"),
    ]

    public var proxy: ProxyConfiguration?
    /// A PEM file of certificate authorities trusted besides the system's.
    public var additionalTrustedCAFile: String?
    public var port: Int
    public var connectTimeout: TimeAmount
    /// How long the connection may go without a byte read or written.
    public var idleTimeout: TimeAmount
    public var eventLoopGroup: any EventLoopGroup

    public init(
        proxy: ProxyConfiguration?, additionalTrustedCAFile: String?, port: Int = 443, connectTimeout: TimeAmount = .seconds(20),
        idleTimeout: TimeAmount = .seconds(60), eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.proxy = proxy
        self.additionalTrustedCAFile = additionalTrustedCAFile
        self.port = port
        self.connectTimeout = connectTimeout
        self.idleTimeout = idleTimeout
        self.eventLoopGroup = eventLoopGroup
    }

    /// `POST https://host{target}` with a body of exactly `contentLength` bytes, written by `body`
    /// through the `write` function it is given.
    public func post(
        host: String, target: String, contentLength: Int, answerLimit: Int = 64 * 1024,
        body: (_ write: (_ bytes: [UInt8]) async throws -> Void) async throws -> Void
    ) async throws -> MediaHostResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: port == 443 ? host : "\(host):\(port)")
        for (name, value) in Self.whatsAppWebHeaders { headers.add(name: name, value: value) }
        headers.add(name: "Content-Type", value: "application/octet-stream")
        headers.add(name: "Content-Length", value: String(contentLength))
        headers.add(name: "Connection", value: "close")
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: target, headers: headers)

        let channel = try await connect(to: host)
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
                    guard let early = try? await answer else { throw error }
                    return early
                }
                return try await answer
            }
        } catch let error as MediaHostError {
            throw error
        } catch let error as ChannelError {
            throw MediaHostError.connectionFailed(host: host, reason: "\(error)")
        } catch let error as NIOSSLError {
            throw MediaHostError.connectionFailed(host: host, reason: "TLS: \(error)")
        } catch let error as IOError {
            throw MediaHostError.connectionFailed(host: host, reason: "\(error)")
        }
    }

    /// The connection failed under a write (closed, reset, TLS), as opposed to the body's source.
    private static func isConnectionFailure(_ error: any Error) -> Bool {
        error is ChannelError || error is IOError || error is NIOSSLError
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
    private func connect(to host: String) async throws -> NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart> {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let additionalTrustedCAFile { tls.additionalTrustRoots = [.file(additionalTrustedCAFile)] }
        let sslContext = try NIOSSLContext(configuration: tls)
        let proxy = self.proxy
        let port = self.port
        let idleTimeout = self.idleTimeout
        do {
            return try await ClientBootstrap(group: eventLoopGroup)
                .connectTimeout(connectTimeout)
                .connect(host: proxy?.host ?? host, port: proxy?.port ?? port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        try pipeline.addHandler(IdleStateHandler(allTimeout: idleTimeout))
                        try pipeline.addHandler(IdleConnectionCloser(host: host, timeout: idleTimeout))
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
