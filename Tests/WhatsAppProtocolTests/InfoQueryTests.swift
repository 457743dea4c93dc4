import Foundation
import Testing

@testable import WhatsAppProtocol

@Suite struct InfoQueryTests {
    @Test func idsArePrefixPlusCounterFromOne() {
        var ids = RequestIDGenerator(randomBytes: (12, 250))
        #expect(ids.next() == "12.250-1")
        #expect(ids.next() == "12.250-2")
        #expect(ids.prefix == "12.250-")
        var random = RequestIDGenerator()
        let first = random.next()
        #expect(first.hasSuffix("-1") && first.split(separator: ".").count == 2)
    }

    @Test func stanzaCarriesIdNamespaceTypeAndTarget() {
        let query = InfoQuery(namespace: "encrypt", kind: .get, content: [BinaryNode(tag: "count")])
        let node = query.node(id: "1.2-3")
        #expect(node.tag == "iq")
        #expect(node.attributes.string("id") == "1.2-3")
        #expect(node.attributes.string("xmlns") == "encrypt")
        #expect(node.attributes.string("type") == "get")
        #expect(node.attributes["to"] == .jid(.server))
        #expect(node.children.map(\.tag) == ["count"])
        #expect(KeepAlive.ping.node(id: "x").content == nil)
    }

    @Test func answersBecomeResultsOrTypedErrors() throws {
        let ok = BinaryNode(tag: "iq", attributes: ["id": "1", "type": "result"])
        #expect(try InfoQuery.outcome(of: ok).get() == ok)
        let error = BinaryNode(
            tag: "iq", attributes: ["id": "1", "type": "error"],
            children: [
                BinaryNode(tag: "error", attributes: ["code": "404", "text": "item-not-found"])
            ])
        #expect(throws: InfoQueryError.server(code: 404, text: "item-not-found")) { try InfoQuery.outcome(of: error).get() }
        #expect(throws: InfoQueryError.disconnected) { try InfoQuery.outcome(of: BinaryNode(tag: "stream:error")).get() }
    }

    @Test func waitersMatchByIdAndACutFailsThemAll() async throws {
        final class Box: @unchecked Sendable { var waiters = InfoQueryWaiters() }
        let box = Box()
        let lock = NSLock()
        async let first: BinaryNode = withCheckedThrowingContinuation { continuation in
            lock.withLock { box.waiters.add("a", continuation) }
        }
        async let second: BinaryNode = withCheckedThrowingContinuation { continuation in
            lock.withLock { box.waiters.add("b", continuation) }
        }
        while lock.withLock({ box.waiters.count }) < 2 { await Task.yield() }
        // Only iq and ack answers with a pending id resolve a waiter.
        #expect(!lock.withLock { box.waiters.resolve(BinaryNode(tag: "message", attributes: ["id": "a"])) })
        #expect(!lock.withLock { box.waiters.resolve(BinaryNode(tag: "iq", attributes: ["id": "zzz"])) })
        let answer = BinaryNode(tag: "iq", attributes: ["id": "a", "type": "result"])
        #expect(lock.withLock { box.waiters.resolve(answer) })
        let firstAnswer = try await first
        #expect(firstAnswer == answer)
        lock.withLock { box.waiters.failAll(with: .disconnected) }
        do {
            _ = try await second
            Issue.record("the second waiter was not failed")
        } catch {
            #expect(error as? InfoQueryError == .disconnected)
        }
        #expect(lock.withLock { box.waiters.count } == 0)
    }
}

@Suite struct KeepAliveTests {
    @Test func intervalsStayWithinTwentyToThirtySeconds() {
        let keepAlive = KeepAlive(startedAt: .now)
        var generator = SystemRandomNumberGenerator()
        let intervals = (0..<500).map { _ in keepAlive.nextInterval(using: &generator) }
        #expect(intervals.allSatisfy { $0 >= .seconds(20) && $0 < .seconds(30) })
        #expect(Set(intervals).count > 100)
        #expect(KeepAlive.Timing.whatsmeow.responseDeadline == .seconds(10))
    }

    @Test func reconnectOnlyAfterThreeMinutesWithoutAnAnswer() {
        let start = ContinuousClock.now
        var keepAlive = KeepAlive(startedAt: start)
        #expect(keepAlive.answered(at: start + .seconds(25)) == .healthy)
        #expect(keepAlive.unanswered(at: start + .seconds(60)) == .failed(count: 1))
        #expect(keepAlive.unanswered(at: start + .seconds(205)) == .failed(count: 2))
        #expect(keepAlive.unanswered(at: start + .seconds(206)) == .reconnect(count: 3))
        #expect(keepAlive.answered(at: start + .seconds(207)) == .restored)
        #expect(keepAlive.failures == 0)
        #expect(keepAlive.unanswered(at: start + .seconds(300)) == .failed(count: 1))
    }
}

@Suite struct ClientOptionsTests {
    @Test func proxyURLs() throws {
        #expect(try WhatsAppClientOptions.proxy(from: URL(string: "http://127.0.0.1:8080")!) == .httpConnect(host: "127.0.0.1", port: 8080))
        #expect(
            try WhatsAppClientOptions.proxy(from: URL(string: "socks5://user:secret@127.0.0.1:1080")!)
                == .socks5(host: "127.0.0.1", port: 1080, credentials: ProxyCredentials(username: "user", password: "secret"))
        )
        #expect(throws: WhatsAppClientOptions.ProxyURLError.self) { try WhatsAppClientOptions.proxy(from: URL(string: "ftp://127.0.0.1:21")!) }
    }
}
