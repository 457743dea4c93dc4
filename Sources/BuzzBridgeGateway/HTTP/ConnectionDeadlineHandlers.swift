import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Closes a connection that misses its ``ConnectionDeadlines``. Sits after the HTTP codec, where
/// it sees request and response parts; the first byte of a kept-alive connection's next request
/// reaches it as ``InboundBytesSignal/Arrived`` from the front of the pipeline.
final class ConnectionDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var deadlines: ConnectionDeadlines
    private var started = false
    private var timer: Scheduled<Void>?

    init(limits: ConnectionLimits) {
        deadlines = ConnectionDeadlines(limits: limits)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: apply(deadlines.headRead(), context)
        case .body: break
        case .end: apply(deadlines.requestEnded(), context)
        }
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is InboundBytesSignal.Arrived {
            apply(deadlines.bytesArrived(), context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { apply(deadlines.responseEnded(), context) }
        context.write(data, promise: promise)
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        apply(deadlines.connected(), context)
    }

    private func apply(_ deadline: ConnectionDeadlines.Deadline, _ context: ChannelHandlerContext) {
        switch deadline {
        case .unchanged:
            return
        case .none:
            timer?.cancel()
            timer = nil
        case .after(let duration):
            timer?.cancel()
            let phase = deadlines.phase
            timer = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(duration)) { [weak self] in
                guard let self, self.deadlines.phase == phase else { return }
                self.timer = nil
                context.close(promise: nil)
            }
        }
    }
}

/// At the front of the pipeline: tells ``ConnectionDeadlineHandler`` that bytes arrived, before
/// the HTTP decoder has a whole head to pass on.
final class InboundBytesSignal: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    struct Arrived: Sendable {}

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireUserInboundEventTriggered(Arrived())
        context.fireChannelRead(data)
    }
}

/// A request the HTTP parser cannot read (headers over the limit, a malformed request line) is
/// answered in the error envelope, then the connection is closed. Hummingbird's own answer is
/// an empty 400.
final class ParseErrorAnswer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundOut = HTTPResponsePart

    static let headerLimitBytes = 80 * 1024

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        let apiError =
            switch parserError {
            case .headerOverflow:
                APIError(
                    .headersTooLarge, "Request headers are too large",
                    details: ["headers": "must be at most \(Self.headerLimitBytes) bytes in all"]
                )
            default:
                APIError(.validationError, "Malformed HTTP request", details: ["request": "is not valid HTTP/1.1"])
            }
        let body = ByteBuffer(bytes: apiError.envelopeJSON)
        var fields = apiError.responseHeaders
        fields[.connection] = "close"
        fields[.contentLength] = "\(body.readableBytes)"
        context.write(wrapOutboundOut(.head(HTTPResponse(status: apiError.code.status, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
