import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Closes a connection that misses its ``ConnectionDeadlines``. Sits after the HTTP codec, where
/// it sees request and response parts; the first byte of a kept-alive connection's next request
/// reaches it as ``InboundBytesSignal/Arrived`` from the front of the pipeline.
///
/// A phase change only records when the connection must have moved on: there is at most one
/// timer, armed no further ahead than the shortest of the limits, so it always fires at or before
/// any deadline a later phase can set. When it fires it closes the connection if the deadline has
/// passed and otherwise arms itself for what is left. A busy kept-alive connection thus schedules
/// one timer per shortest limit, not several per request.
final class ConnectionDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var deadlines: ConnectionDeadlines
    private let longestWait: TimeAmount
    private var started = false
    /// When the connection must have moved on; nil while nothing is timed.
    private var deadline: NIODeadline?
    private var timer: Scheduled<Void>?

    init(limits: ConnectionLimits) {
        deadlines = ConnectionDeadlines(limits: limits)
        longestWait = TimeAmount(min(limits.headerReadTimeout, limits.bodyReadTimeout, limits.idleTimeout))
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopTimer()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopTimer()
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

    private func apply(_ change: ConnectionDeadlines.Deadline, _ context: ChannelHandlerContext) {
        switch change {
        case .unchanged:
            return
        case .none:
            // A timer still pending finds no deadline and stops.
            deadline = nil
        case .after(let duration):
            deadline = .now() + TimeAmount(duration)
            if timer == nil { arm(context) }
        }
    }

    private func arm(_ context: ChannelHandlerContext) {
        guard let deadline else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: min(deadline, .now() + longestWait)) { [weak self] in
            self?.timerFired(context)
        }
    }

    private func timerFired(_ context: ChannelHandlerContext) {
        timer = nil
        guard let deadline else { return }
        if deadline <= .now() {
            context.close(promise: nil)
        } else {
            arm(context)
        }
    }

    private func stopTimer() {
        timer?.cancel()
        timer = nil
        deadline = nil
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
