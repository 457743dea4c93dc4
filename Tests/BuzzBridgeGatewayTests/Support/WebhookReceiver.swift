import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A webhook endpoint for tests: a plain HTTP/1.1 server on loopback that keeps every request
/// exactly as it arrived (raw body bytes, headers, arrival time) and answers as told.
final class WebhookReceiver: Sendable {
    struct Request: Sendable {
        let arrivedAt: ContinuousClock.Instant
        let path: String
        /// Lower-cased names.
        let headers: [String: String]
        let body: [UInt8]

        func header(_ name: String) -> String? { headers[name.lowercased()] }

        var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
        }
    }

    enum Answer: Sendable {
        case status(Int)
        /// Answer with this status after this long.
        case delayed(Duration, status: Int)
        /// Read the request, never answer.
        case silence
        /// Answer with this status once the gate is released.
        case held(AnswerGate, status: Int)
    }

    /// Holds answers until the test releases them: an order of events that no machine's load can
    /// change, where a delay would only make it likely.
    final class AnswerGate: Sendable {
        private let state = Mutex<(released: Bool, waiting: [@Sendable () -> Void])>((false, []))

        func release() {
            let waiting = state.withLock { state in
                state.released = true
                defer { state.waiting = [] }
                return state.waiting
            }
            for answer in waiting { answer() }
        }

        /// Runs `answer` on release, or now if released already.
        func whenReleased(_ answer: @escaping @Sendable () -> Void) {
            let now = state.withLock { state in
                if !state.released { state.waiting.append(answer) }
                return state.released
            }
            if now { answer() }
        }
    }

    /// Decides the answer from the request's position (0 for the first) and the request.
    typealias Responder = @Sendable (Int, Request) -> Answer

    private let recorder: Recorder
    private let channel: any Channel
    let port: Int

    var url: String { "http://127.0.0.1:\(port)/webhooks/whatsapp" }
    var requests: [Request] { recorder.requests }
    /// The most requests that were open (read, not yet answered) at one time.
    var maximumOpen: Int { recorder.maximumOpen }

    /// When the request at `index` was answered; nil while unanswered.
    func answeredAt(_ index: Int) -> ContinuousClock.Instant? { recorder.answeredAt(index) }

    /// Starts on `port` (0: any free port).
    static func start(port: Int = 0, responder: @escaping Responder = { _, _ in .status(200) }) async throws -> WebhookReceiver {
        let recorder = Recorder(responder: responder)
        let channel = try await bootstrap(recorder).bind(host: "127.0.0.1", port: port).get()
        return WebhookReceiver(recorder: recorder, channel: channel, port: channel.localAddress?.port ?? port)
    }

    /// Starts listening on `socket`, a bound socket that did not listen yet (so that connections
    /// to its port were refused until now), and takes it over. The port is never free in between.
    static func start(boundSocket socket: Int32, responder: @escaping Responder = { _, _ in .status(200) }) async throws -> WebhookReceiver {
        guard listen(socket, 128) == 0 else { throw TestFailure("listen: errno \(errno)") }
        let recorder = Recorder(responder: responder)
        let channel = try await bootstrap(recorder).withBoundSocket(socket).get()
        return WebhookReceiver(recorder: recorder, channel: channel, port: channel.localAddress?.port ?? 0)
    }

    private static func bootstrap(_ recorder: Recorder) -> ServerBootstrap {
        ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                recorder.track(channel)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(ReceiverHandler(recorder: recorder))
                }
            }
    }

    /// A loopback port that nothing listens on (until a receiver is started on it).
    /// A free port below the kernel's ephemeral range (32768 and up on Linux), so that no
    /// connection or port-0 listener of another test takes it before the caller binds it.
    static func unusedPort() async throws -> Int {
        for _ in 0..<100 {
            let candidate = Int.random(in: 20_000..<32_000)
            guard
                let channel = try? await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .bind(host: "127.0.0.1", port: candidate).get()
            else { continue }
            try await channel.close()
            return candidate
        }
        throw TestFailure("no free port below the ephemeral range")
    }

    private init(recorder: Recorder, channel: any Channel, port: Int) {
        self.recorder = recorder
        self.channel = channel
        self.port = port
    }

    func respond(with responder: @escaping Responder) {
        recorder.setResponder(responder)
    }

    /// Closes the listener and every connection, answered or not.
    func stop() async {
        try? await channel.close()
        for connection in recorder.connections { try? await connection.close() }
    }

    /// Polls until `count` requests arrived or `timeout` passed; returns the requests.
    func waitForRequests(_ count: Int, timeout: Duration = .seconds(30)) async throws -> [Request] {
        let deadline = ContinuousClock.now + timeout
        while recorder.requests.count < count, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        return recorder.requests
    }

    final class Recorder: Sendable {
        private struct State {
            var requests: [Request] = []
            var responder: Responder
            var connections: [any Channel] = []
            var answered: [Int: ContinuousClock.Instant] = [:]
            var open = 0
            var maximumOpen = 0
        }

        private let state: Mutex<State>

        init(responder: @escaping Responder) {
            state = Mutex(State(responder: responder))
        }

        var requests: [Request] { state.withLock { $0.requests } }
        var connections: [any Channel] { state.withLock { $0.connections } }

        func setResponder(_ responder: @escaping Responder) {
            state.withLock { $0.responder = responder }
        }

        func track(_ channel: any Channel) {
            state.withLock { $0.connections.append(channel) }
        }

        var maximumOpen: Int { state.withLock { $0.maximumOpen } }

        func answeredAt(_ index: Int) -> ContinuousClock.Instant? { state.withLock { $0.answered[index] } }

        /// Returns the request's position and how to answer it.
        func record(_ request: Request) -> (Int, Answer) {
            let (index, responder) = state.withLock { state in
                state.requests.append(request)
                state.open += 1
                state.maximumOpen = max(state.maximumOpen, state.open)
                return (state.requests.count - 1, state.responder)
            }
            return (index, responder(index, request))
        }

        /// Called just before the answer is written.
        func answering(_ index: Int) {
            state.withLock { state in
                state.open -= 1
                state.answered[index] = .now
            }
        }
    }
}

private final class ReceiverHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let recorder: WebhookReceiver.Recorder
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var arrivedAt = ContinuousClock.now

    init(recorder: WebhookReceiver.Recorder) {
        self.recorder = recorder
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
            arrivedAt = .now
        case .body(var buffer):
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            guard let head else { return }
            var headers: [String: String] = [:]
            for (name, value) in head.headers { headers[name.lowercased()] = value }
            let (index, answer) = recorder.record(.init(arrivedAt: arrivedAt, path: head.uri, headers: headers, body: body))
            switch answer {
            case .silence:
                return
            case .status(let code):
                reply(code, index: index, context: context)
            case .delayed(let delay, let code):
                let (seconds, attoseconds) = delay.components
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)) {
                    let (handler, context) = bound.value
                    handler.reply(code, index: index, context: context)
                }
            case .held(let gate, let code):
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                let eventLoop = context.eventLoop
                gate.whenReleased {
                    eventLoop.execute {
                        let (handler, context) = bound.value
                        handler.reply(code, index: index, context: context)
                    }
                }
            }
        }
    }

    /// Writes the answer; the request at `index` counts as answered from now.
    private func reply(_ code: Int, index: Int, context: ChannelHandlerContext) {
        recorder.answering(index)
        let content = ByteBuffer(string: #"{"success":true,"message":"Webhook received"}"#)
        var replyHeaders = HTTPHeaders()
        replyHeaders.add(name: "Content-Type", value: "application/json")
        replyHeaders.add(name: "Content-Length", value: String(content.readableBytes))
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: code), headers: replyHeaders))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(content))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
