import NIOCore

/// Ends a media host connection that `IdleStateHandler` reports idle: the error goes up the
/// pipeline first (the request sees why), then the channel closes.
final class IdleConnectionCloser: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let host: String
    private let timeout: TimeAmount
    private let closeReason: ConnectionCloseReason

    init(host: String, timeout: TimeAmount, closeReason: ConnectionCloseReason) {
        self.host = host
        self.timeout = timeout
        self.closeReason = closeReason
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is IdleStateHandler.IdleStateEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        let seconds = timeout.nanoseconds / 1_000_000_000
        let reason = MediaHostError.connectionFailed(host: host, reason: "nothing was read or written for \(seconds) s")
        closeReason.record(reason)
        context.fireErrorCaught(reason)
        context.close(promise: nil)
    }
}
