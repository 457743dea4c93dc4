import NIOCore

/// Ends a media host connection that `IdleStateHandler` reports idle: the error goes up the
/// pipeline first (the request sees why), then the channel closes.
final class IdleConnectionCloser: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let host: String
    private let timeout: TimeAmount

    init(host: String, timeout: TimeAmount) {
        self.host = host
        self.timeout = timeout
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is IdleStateHandler.IdleStateEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        let seconds = timeout.nanoseconds / 1_000_000_000
        context.fireErrorCaught(MediaHostError.connectionFailed(host: host, reason: "nothing was read or written for \(seconds) s"))
        context.close(promise: nil)
    }
}
