import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL

/// HTTPS with TLS 1.2 and 1.3 only. A client speaking plain HTTP to the TLS port gets a clear
/// error in the API's envelope instead of a dropped connection, and nothing more.
enum HTTPSServer {
    static func tlsConfiguration(_ files: TLSFiles) throws(TLSFileError) -> TLSConfiguration {
        guard let chain = try? NIOSSLCertificate.fromPEMFile(files.certificateChainPath), !chain.isEmpty else {
            throw TLSFileError(role: "certificate chain", path: files.certificateChainPath)
        }
        guard let key = try? NIOSSLPrivateKey(file: files.privateKeyPath, format: .pem) else {
            throw TLSFileError(role: "private key", path: files.privateKeyPath)
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.maximumTLSVersion = .tlsv13
        // TLS 1.2: forward secrecy (ECDHE) with an AEAD cipher only; no CBC, no SHA-1 MACs, no RSA
        // key exchange. TLS 1.3's suites are all AEAD and are not affected by this list.
        configuration.cipherSuites = tls12CipherSuites
        // On close the server sends close_notify and waits for the client's. Clients that never
        // answer (AsyncHTTPClient's idle pooled connections among them) held every graceful
        // shutdown for NIOSSL's default 5 s; the client's answer is not needed for the close.
        configuration.shutdownTimeout = .milliseconds(500)
        return configuration
    }

    static let tls12CipherSuites = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    static func builder(_ files: TLSFiles, limits: ConnectionLimits) throws -> HTTPServerBuilder {
        // Loaded once: a bad file fails at startup, not on the first connection.
        let configuration = try tlsConfiguration(files)
        return .init { responder in
            LoopPinnedChannel(
                base: try PlainHTTPRefusingChannel(
                    base: TLSChannel(HTTP1Channel.limited(responder: responder, limits: limits), tlsConfiguration: configuration)))
        }
    }
}

/// A certificate or key file that cannot be used, named so that an operator can fix it: NIOSSL's
/// own errors say neither which file nor why.
public struct TLSFileError: Error, CustomStringConvertible {
    public let description: String

    init(role: String, path: String) {
        let reason =
            if !FileManager.default.fileExists(atPath: path) {
                "no such file"
            } else if !FileManager.default.isReadableFile(atPath: path) {
                "not readable by this user"
            } else {
                "not a PEM \(role)"
            }
        description = "cannot use the TLS \(role) \(path): \(reason)"
    }
}

/// Puts ``PlainHTTPRefuser`` in front of the TLS channel's handlers.
struct PlainHTTPRefusingChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(PlainHTTPRefuser())
        }
        .flatMap { base.setup(channel: channel, logger: logger) }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension PlainHTTPRefusingChannel: HTTPChannelHandler where Base: HTTPChannelHandler {
    var responder: HTTPChannelHandler.Responder { base.responder }
}

/// Looks at the first byte of a connection: a TLS record starts with 0x16 (handshake). Anything
/// else is taken for plain HTTP and answered with a 400 naming the problem, then closed.
final class PlainHTTPRefuser: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let tlsHandshakeRecord: UInt8 = 0x16

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return }
        if first == Self.tlsHandshakeRecord {
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(self, promise: nil)
            return
        }
        let body = #"{"error":{"code":"VALIDATION_ERROR","message":"This server accepts HTTPS only; use https:// (TLS 1.2 or 1.3)"},"success":false}"#
        let head =
            "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
        let reply = context.channel.allocator.buffer(string: head + body)
        context.writeAndFlush(wrapOutboundOut(reply)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}

/// With `--trust-proxy` the gateway itself speaks plain HTTP to the proxy; a request the proxy
/// did not mark as HTTPS is refused, so that the API is never used unencrypted by accident.
struct ForwardedHTTPSMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let proto = request.headers[.xForwardedProto]?.split(separator: ",").last?.trimmingCharacters(in: .whitespaces).lowercased()
        guard proto == "https" else {
            throw APIError(.validationError, "This server accepts HTTPS only; use https://", details: ["scheme": "must be https"])
        }
        return try await next(request, context)
    }
}

/// Once a browser has seen the gateway over HTTPS it must never try plain HTTP again (one year).
struct StrictTransportSecurityMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.strictTransportSecurity] = "max-age=31536000"
        return response
    }
}
