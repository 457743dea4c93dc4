import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

@testable import BuzzBridgeGateway

#if canImport(Glibc)
import Glibc
#endif

/// Idle and half-sent connections are closed on their deadlines and cannot starve the server
/// (issue #15: 600 of them under a 512-descriptor limit held every other client off while the
/// server spun a core). The real executable, under a low descriptor limit.
@Suite("Slow and idle clients: deadlines, connection cap, accept under a descriptor limit")
struct SlowClientTests {
    @Test func deadlinesFollowTheConnection() {
        var deadlines = ConnectionDeadlines(
            limits: ConnectionLimits(
                headerReadTimeout: .seconds(1), idleTimeout: .seconds(2), bodyReadTimeout: .seconds(3), maximumConnections: 10
            ))
        #expect(deadlines.connected() == .after(.seconds(1)))
        #expect(deadlines.bytesArrived() == .unchanged)
        #expect(deadlines.headRead() == .after(.seconds(3)))
        #expect(deadlines.requestEnded() == ConnectionDeadlines.Deadline.none)
        // The server takes as long as it takes; then the connection idles.
        #expect(deadlines.responseEnded() == .after(.seconds(2)))
        #expect(deadlines.bytesArrived() == .after(.seconds(1)))
        #expect(deadlines.bytesArrived() == .unchanged)
        // Pipelined: a second head before the first answer; idle only after both answers.
        _ = deadlines.headRead()
        _ = deadlines.requestEnded()
        _ = deadlines.headRead()
        _ = deadlines.requestEnded()
        #expect(deadlines.responseEnded() == .unchanged)
        #expect(deadlines.responseEnded() == .after(.seconds(2)))
    }

    /// `maxConnections` nil: the default cap, derived from the descriptor limit. 1000: a cap above
    /// the limit, which the server lowers to it, so that accepting never runs into EMFILE (where
    /// it spun half a core).
    @Test(arguments: [nil, 1000] as [Int?])
    func idleAndHalfSentConnectionsDoNotStarveTheServer(maxConnections: Int?) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-slow-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var arguments = [
            "serve", "--data", directory, "--port", "0", "--log-level", "critical",
            "--header-timeout", "2", "--idle-timeout", "2", "--body-timeout", "2",
        ]
        if let maxConnections { arguments += ["--max-connections", "\(maxConnections)"] }
        let server = try ServerProcess(arguments: arguments, openFiles: 256)
        let base = try await server.baseURL()
        let output = try await server.waitFor("API key")
        let key = try #require(output.split(separator: "\n").first { $0.contains("API key") }?.split(separator: " ").last.map(String.init))
        let portText = base.split(separator: ":").last.map(String.init) ?? ""
        let port = try #require(Int(portText))
        #expect(try await Self.status(base, key: key) == 200)

        let before = try server.cpuTicks
        var flood: [Int32] = []
        for index in 0..<300 {
            let prefix =
                switch index % 3 {
                case 0: ""
                case 1: "GET /api/session/sta"
                default: "POST /api/messages/send HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{\"pho"
                }
            flood.append(try RawConnection.open(port: port, sending: prefix))
        }
        // Once the flood is accepted and read (a one-off cost, about 40 ticks of 1/100 s in a debug
        // build), holding it costs nothing until the deadlines; a loop spinning on a failing
        // accept burns up to 100 ticks a second.
        try await Task.sleep(for: .milliseconds(700))
        let settled = try server.cpuTicks
        try await Task.sleep(for: .milliseconds(1000))
        let held = try server.cpuTicks - settled
        #expect(held < 30, "server used \(held) ticks of CPU in a second while the connections were held")

        // A normal client is answered once the flood's deadlines have passed.
        #expect(try await Self.status(base, key: key) == 200)
        // And every flood connection was closed by the server.
        let closed = await RawConnection.waitUntilClosed(flood, timeout: .seconds(12))
        #expect(closed == flood.count, "\(flood.count - closed) connections still open")
        flood.forEach { close($0) }
        #expect(try server.cpuTicks - before < 150)
        await server.terminate()
    }

    @Test func aKeptAliveConnectionIsClosedOnceIdleAndNotBefore() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-idle-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try ServerProcess(arguments: [
            "serve", "--data", directory, "--port", "0", "--log-level", "critical",
            "--header-timeout", "1", "--idle-timeout", "3", "--body-timeout", "1",
        ])
        let base = try await server.baseURL()
        let port = try #require(Int(base.split(separator: ":").last.map(String.init) ?? ""))
        // A whole request with a short answer: answered, then the connection is idle, not awaiting
        // a head. (A long answer the client does not read is still being written, so untimed.)
        let connection = try RawConnection.open(port: port, sending: "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        try await Task.sleep(for: .milliseconds(1800))
        #expect(await RawConnection.waitUntilClosed([connection], timeout: .milliseconds(100)) == 0, "closed by the header deadline")
        #expect(await RawConnection.waitUntilClosed([connection], timeout: .seconds(6)) == 1, "never closed when idle")
        close(connection)
        await server.terminate()
    }

    static func status(_ base: String, key: String) async throws -> Int {
        var request = HTTPClientRequest(url: base + "/api/session/status")
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        let response = try await TestGateway.client.execute(request, timeout: .seconds(12))
        _ = try await response.body.collect(upTo: 1 << 20)
        return Int(response.status.code)
    }
}

/// Plain blocking sockets: what a slow client does, byte for byte.
enum RawConnection {
    static func open(port: Int, sending text: String) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(fd); throw TestFailure("connect: \(errno)") }
        if !text.isEmpty { _ = text.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) } }
        return fd
    }

    /// How many of `fds` the peer closed (end of file or reset) within `timeout`.
    static func waitUntilClosed(_ fds: [Int32], timeout: Duration) async -> Int {
        var open = Set(fds)
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !open.isEmpty, ContinuousClock.now < deadline {
            var polled = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            _ = poll(&polled, nfds_t(polled.count), 100)
            for entry in polled where entry.revents != 0 {
                // Any answer (a 408, say) is read past; only the end of the stream counts.
                let count = recv(entry.fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                if count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK) { open.remove(entry.fd) }
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return fds.count - open.count
    }
}
