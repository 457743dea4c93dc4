import NIOCore

/// Ends a media host connection that is still open `timeout` after it was set up (connection,
/// proxy, TLS, request and answer together): the error goes up the pipeline first (the request
/// sees why), then the channel closes. The idle timeout catches a host that stops; this one a host
/// that trickles.
final class RequestDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let host: String
    private let timeout: TimeAmount
    private let closeReason: ConnectionCloseReason
    private var deadline: Scheduled<Void>?

    init(host: String, timeout: TimeAmount, closeReason: ConnectionCloseReason) {
        self.host = host
        self.timeout = timeout
        self.closeReason = closeReason
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let host = self.host, seconds = timeout.nanoseconds / 1_000_000_000, closeReason = self.closeReason
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            let context = bound.value
            let reason = MediaHostError.connectionFailed(host: host, reason: "the request took longer than \(seconds) s")
            closeReason.record(reason)
            context.fireErrorCaught(reason)
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        context.fireChannelInactive()
    }
}
