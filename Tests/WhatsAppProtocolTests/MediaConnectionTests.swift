import Foundation
import Testing

@testable import WhatsAppProtocol

@Suite("media_conn") struct MediaConnectionTests {
    static func answer(_ attributes: BinaryNode.Attributes, hosts: [String]) -> BinaryNode {
        let hostNodes = hosts.map { BinaryNode(tag: "host", attributes: ["hostname": .string($0)]) }
        return BinaryNode(
            tag: "iq", attributes: ["type": "result"],
            content: .nodes([BinaryNode(tag: "media_conn", attributes: attributes, content: .nodes(hostNodes))])
        )
    }

    static let complete: BinaryNode.Attributes = ["auth": "AUTH", "ttl": "300", "auth_ttl": "21600", "max_buckets": "12"]

    @Test("the query is whatsmeow's: w:m set to the server with an empty media_conn")
    func query() {
        let node = MediaConnection.query.node(id: "1")
        #expect(node.attributes.string("xmlns") == "w:m" && node.attributes.string("type") == "set")
        #expect(node.attributes.string("to") == "s.whatsapp.net")
        #expect(node.children.map(\.tag) == ["media_conn"])
    }

    @Test("an answer parses to hosts in order, auth, ttl, auth_ttl and max_buckets, valid for ttl seconds")
    func parses() throws {
        let fetched = Date(timeIntervalSince1970: 1_000_000)
        let connection = try MediaConnection(answer: Self.answer(Self.complete, hosts: ["a.example", "b.example"]), fetchedAt: fetched)
        #expect(connection.hosts == ["a.example", "b.example"])
        #expect(connection.auth == "AUTH" && connection.ttl == 300 && connection.authTTL == 21600 && connection.maxBuckets == 12)
        #expect(connection.isValid(at: fetched.addingTimeInterval(299)))
        #expect(!connection.isValid(at: fetched.addingTimeInterval(300)))
    }

    @Test("an answer without one of the four attributes or without hosts is refused, as whatsmeow refuses it")
    func refusesIncomplete() {
        for name in ["auth", "ttl", "auth_ttl", "max_buckets"] {
            var attributes = Self.complete
            attributes[name] = nil
            #expect(throws: MediaConnectionError.missingAttribute(name)) {
                try MediaConnection(answer: Self.answer(attributes, hosts: ["a.example"]), fetchedAt: Date())
            }
        }
        #expect(throws: MediaConnectionError.noHosts) { try MediaConnection(answer: Self.answer(Self.complete, hosts: []), fetchedAt: Date()) }
        #expect(throws: MediaConnectionError.missingMediaConn) {
            try MediaConnection(answer: BinaryNode(tag: "iq", attributes: ["type": "result"]), fetchedAt: Date())
        }
    }

    @Test("the cache answers from memory until expiry, then asks again; concurrent callers share one query")
    func cache() async throws {
        let cache = MediaConnectionCache()
        let queries = Counter()
        let start = Date()
        let fetch: @Sendable () async throws -> MediaConnection = {
            await queries.increment()
            try await Task.sleep(for: .milliseconds(50))
            return MediaConnection(hosts: ["h"], auth: "a", ttl: 60, authTTL: 60, maxBuckets: 1, fetchedAt: start)
        }
        try await withThrowingTaskGroup(of: MediaConnection.self) { group in
            for _ in 0..<8 { group.addTask { try await cache.connection(now: start, fetch: fetch) } }
            for try await connection in group { #expect(connection.hosts == ["h"]) }
        }
        #expect(await queries.value == 1)
        _ = try await cache.connection(now: start.addingTimeInterval(59), fetch: fetch)
        #expect(await queries.value == 1)
        _ = try await cache.connection(now: start.addingTimeInterval(61), fetch: fetch)
        #expect(await queries.value == 2)
        _ = try await cache.connection(now: start, forceRefresh: true, fetch: fetch)
        #expect(await queries.value == 3)
    }

    @Test("against the server double: its hosts and auth, asked once while cached")
    func againstTheDouble() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        let paired = try await ClientDoubleTests.pairByQR(double)
        let first = try await paired.client.mediaConnection()
        let second = try await paired.client.mediaConnection()
        let cdn = try await double.ok("GET", "/cdn")
        #expect(first.hosts == cdn["hosts"] as? [String] && first.hosts.first == "mmg.whatsapp.net")
        #expect(first.auth == cdn["auth"] as? String && first.ttl == cdn["ttl"] as? Int)
        #expect(first.authTTL > 0 && first.maxBuckets > 0 && second == first)
        #expect(cdn["mediaConnQueries"] as? Int == 1)
        await paired.client.stop()
    }
}

private actor Counter {
    var value = 0
    func increment() { value += 1 }
}
