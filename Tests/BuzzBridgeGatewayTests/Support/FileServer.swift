import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A plain HTTP/1.1 server on loopback serving fixed files by path (404 for others), for sends
/// whose `media.url` BuzzBridge fetches. `/slow/…` paths answer after `slowDelay`.
final class FileServer: Sendable {
    private let channel: any Channel
    let port: Int

    static func start(files: [String: [UInt8]], slowDelay: TimeAmount = .seconds(5)) async throws -> FileServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(FileHandler(files: files, slowDelay: slowDelay))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return FileServer(channel: channel, port: channel.localAddress?.port ?? 0)
    }

    private init(channel: any Channel, port: Int) {
        self.channel = channel
        self.port = port
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    func stop() async {
        try? await channel.close()
    }
}

private final class FileHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let files: [String: [UInt8]]
    let slowDelay: TimeAmount

    init(files: [String: [UInt8]], slowDelay: TimeAmount) {
        self.files = files
        self.slowDelay = slowDelay
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = unwrapInboundIn(data) else { return }
        let isSlow = head.uri.hasPrefix("/slow/")
        let path = isSlow ? String(head.uri.dropFirst("/slow".count)) : head.uri
        let file = files[path]
        let answer = {
            var headers = HTTPHeaders()
            headers.add(name: "Content-Length", value: "\(file?.count ?? 0)")
            headers.add(name: "Connection", value: "close")
            context.write(
                self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: file == nil ? .notFound : .ok, headers: headers))),
                promise: nil)
            if let file { context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: file)))), promise: nil) }
            context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
        }
        if isSlow {
            context.eventLoop.scheduleTask(in: slowDelay, answer)
        } else {
            answer()
        }
    }
}
