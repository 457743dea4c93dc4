import HummingbirdCore
import Logging
import NIOCore

/// Runs each connection's requests on the event loop that owns its socket.
///
/// Swift concurrency's jobs run on the event loops and stay on the loop that enqueued them
/// (`EventLoopExecutor` in the CLI). A connection's task is started by Hummingbird's accept task,
/// so it begins on the listening socket's loop, and it stays there for as long as its next
/// request is already read when it asks for it, as under load it mostly is. One loop then ran the
/// requests of both loops' connections in one unbroken turn, never polling its own sockets: new
/// connections went unaccepted and its own connections' requests waited for whole turns
/// (docs/benchmarks.md, "read stalls"). With the connection's loop as the task's executor
/// preference, every resumption returns there, and each loop runs only the requests of the
/// connections it reads.
struct LoopPinnedChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        base.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await withTaskExecutorPreference(EventLoopTaskExecutor(value.channel.eventLoop)) {
            await base.handle(value: value, logger: logger)
        }
    }
}

extension LoopPinnedChannel: HTTPChannelHandler where Base: HTTPChannelHandler {
    var responder: HTTPChannelHandler.Responder { base.responder }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 within `limits`, each connection's requests run on its own event loop (``LoopPinnedChannel``).
    static func http1OnConnectionLoops(limits: ConnectionLimits = .init()) -> HTTPServerBuilder {
        .init { responder in LoopPinnedChannel(base: HTTP1Channel.limited(responder: responder, limits: limits)) }
    }
}

extension HTTP1Channel {
    /// HTTP/1.1 whose connections keep to `limits`' deadlines and whose unreadable requests are
    /// answered in the error envelope.
    static func limited(responder: @escaping HTTPChannelHandler.Responder, limits: ConnectionLimits) -> DeadlineSignallingChannel<HTTP1Channel> {
        DeadlineSignallingChannel(
            base: HTTP1Channel(
                responder: responder,
                configuration: .init(additionalChannelHandlers: [ParseErrorAnswer(), ConnectionDeadlineHandler(limits: limits)])
            )
        )
    }
}

/// Puts ``InboundBytesSignal`` in front of the HTTP decoder (after TLS, when there is TLS).
struct DeadlineSignallingChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(InboundBytesSignal())
        }
        .flatMap { base.setup(channel: channel, logger: logger) }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension DeadlineSignallingChannel: HTTPChannelHandler where Base: HTTPChannelHandler {
    var responder: HTTPChannelHandler.Responder { base.responder }
}

/// Runs a task's jobs on one event loop.
///
/// The jobs go to the loop as its own serial executor's jobs, as `EventLoopExecutor` hands it
/// every other job, rather than being run as this task executor's: a request then passes through
/// the loop's queue at each nonisolated call it makes, taking turns with the loop's other
/// connections. Run start to finish in one job each, requests cost about a third more CPU
/// (docs/benchmarks.md).
final class EventLoopTaskExecutor: TaskExecutor {
    private let loop: any EventLoop

    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        loop.executor.enqueue(job)
    }
}
