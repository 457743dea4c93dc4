import AsyncHTTPClient
import Dispatch
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Testing

@testable import BuzzBridgeGateway

@Suite("Each connection's requests run on its own event loop")
struct LoopPinningTests {
    /// Remembers the event loop that reads the request's connection.
    struct LoopRecordingContext: RequestContext {
        var coreContext: CoreRequestContextStorage
        let connectionLoop: any EventLoop

        init(source: ApplicationRequestContextSource) {
            coreContext = .init(source: source)
            connectionLoop = source.channel.eventLoop
        }
    }

    @Test func requestsRunOnTheirConnectionsLoopAlsoAfterBeingResumedFromAnotherThread() async throws {
        let router = Router(context: LoopRecordingContext.self)
        router.get("loop") { _, context -> String in
            let atStart = context.connectionLoop.inEventLoop
            // Resumed by a Dispatch thread, as a group commit resumes its writers.
            await withCheckedContinuation { continuation in DispatchQueue.global().async { continuation.resume() } }
            return "\(atStart) \(context.connectionLoop.inEventLoop)"
        }
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let application = Application(
            router: router, server: .http1OnConnectionLoops(),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in portContinuation.yield(channel.localAddress?.port ?? 0) }
        )
        let services = ServiceGroup(configuration: .init(services: [application], logger: Logger(label: "loop-pinning")))
        try await withThrowingTaskGroup { group in
            group.addTask {
                // A server that fails to start ends the stream, and the test with it.
                defer { portContinuation.finish() }
                try await services.run()
            }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            // A fresh connection per request, sixteen at a time, so that they land on every loop,
            // not only on the listening socket's.
            let answers = try await withThrowingTaskGroup(of: String.self) { requests in
                for _ in 0..<16 {
                    requests.addTask {
                        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/loop")
                        request.headers.add(name: "Connection", value: "close")
                        let response = try await ConfiguredGateway.plainClient.execute(request, timeout: .seconds(10))
                        return String(buffer: try await response.body.collect(upTo: 1024))
                    }
                }
                return try await requests.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.count == 16)
            #expect(answers.allSatisfy { $0 == "true true" }, "on the connection's loop at the start and after the resumption: \(answers)")
            await services.triggerGracefulShutdown()
            try await group.waitForAll()
        }
    }
}
