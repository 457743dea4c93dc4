import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TestSupport
import Testing

/// Two `buzzbridge serve` processes as two nodes on one PostgreSQL database: the sessions spread
/// over both, a node killed has its sessions taken over by the other once its leases expire, and a
/// node stopped gracefully hands them over at once.
@Suite("Several nodes on one PostgreSQL database")
struct SeveralNodesServeTests {
    /// Short, so that the test is quick; rounds run every third of it.
    private static let leaseSeconds = 9.0

    private struct Node {
        let process: ServerProcess
        let url: String
        let output: String
    }

    private func start(_ node: String, database: String) async throws -> Node {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-nodes-\(UUID().uuidString)").path
        let process = try ServerProcess(
            arguments: [
                "serve", "--data", data, "--port", "0", "--log-level", "error", "--node-id", node, "--lease-duration", "\(Self.leaseSeconds)",
            ],
            environment: ["BUZZBRIDGE_DATABASE_URL": database]
        )
        let url = try await process.baseURL()
        return Node(process: process, url: url, output: try await process.waitFor("listening on"))
    }

    private func text(_ url: String, bearer: String) async throws -> String {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Authorization", value: "Bearer \(bearer)")
        let response = try await TestGateway.client.execute(request, timeout: .seconds(30))
        return String(buffer: try await response.body.collect(upTo: 1 << 22))
    }

    /// Polls the leases until `done` holds, returning them and how long it took.
    private func waitForOwners(
        _ database: String, within limit: Duration, _ what: String, until done: ([String: String]) -> Bool
    ) async throws -> (owners: [String: String], took: Duration) {
        let start = ContinuousClock.now
        var last: [String: String] = [:]
        while ContinuousClock.now - start < limit {
            last = try await LeaseTable.owners(database)
            if done(last) { return (last, ContinuousClock.now - start) }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("\(what) not within \(limit): \(last)")
    }

    /// The session is active and connected, and its engine runs on the node behind `url` (a
    /// sandbox incoming message needs the engine).
    private func expectServed(_ session: String, key: String, by url: String, _ note: String) async throws {
        let status = try await ServedProcess.call(.GET, url + "/api/session/status", bearer: key)
        let data = status.json["data"] as? [String: Any]
        #expect(data?["status"] as? String == "active", "\(note): \(status.json)")
        #expect(data?["connection"] as? String == "connected", "\(note): \(status.json)")
        let incoming = try await ServedProcess.call(
            .POST, url + "/api/sandbox/incoming", bearer: key, body: #"{"phone":"+60198765432","message":"to \#(session)"}"#)
        #expect(incoming.status == 200, "\(note): \(incoming.json)")
    }

    /// The first start's sandbox session and `more` others, made and paired through `node`, the
    /// only node yet: session id → API key.
    private func pairedSessions(on node: Node, more: Int) async throws -> [String: String] {
        let admin = try ServedProcess.announced("Admin token (shown once", in: node.output)
        var keys: [String: String] = [:]
        let firstKey = try ServedProcess.announced("API key (shown once", in: node.output)
        let first = try await ServedProcess.call(.GET, node.url + "/api/session/status", bearer: firstKey)
        keys[try #require((first.json["data"] as? [String: Any])?["session_id"] as? String)] = firstKey
        for index in 0..<more {
            let made = try await ServedProcess.call(
                .POST, node.url + "/admin/api/sessions", bearer: admin, body: #"{"kind":"sandbox","name":"node test \#(index)"}"#)
            #expect(made.status == 201, "\(made.json)")
            let data = try #require(made.json["data"] as? [String: Any])
            let id = try #require((data["session"] as? [String: Any])?["session_id"] as? String)
            keys[id] = try #require(data["api_key"] as? String)
        }
        for key in keys.values {
            #expect(try await ServedProcess.call(.GET, node.url + "/api/qr", bearer: key).status == 200)
            #expect(try await ServedProcess.call(.POST, node.url + "/api/sandbox/scan", bearer: key).status == 200)
        }
        return keys
    }

    @Test func sessionsSpreadAKilledNodesSessionsAreTakenOverAndAStoppedNodeHandsThemOverAtOnce() async throws {
        let database = try await PostgresTestServer.shared.newDatabaseURL()
        let a = try await start("node-a", database: database)
        // Four sessions paired through node-a, the only node: it holds every lease.
        let keys = try await pairedSessions(on: a, more: 3)
        let alone = try await waitForOwners(database, within: .seconds(10), "node-a owning all") { $0.count == 4 && Set($0.values) == ["node-a"] }
        #expect(alone.owners.count == 4)

        // node-b joins: node-a hands over its excess, two each.
        var b = try await start("node-b", database: database)
        let spread = try await waitForOwners(database, within: .seconds(20), "two sessions each") { owners in
            owners.count == 4 && owners.values.filter { $0 == "node-a" }.count == 2 && owners.values.filter { $0 == "node-b" }.count == 2
        }
        for (session, owner) in spread.owners {
            let key = try #require(keys[session])
            try await expectServed(session, key: key, by: owner == "node-a" ? a.url : b.url, "before the kill, \(owner)")
            // Only the owner runs the session: the other node refuses what needs its engine.
            let other = owner == "node-a" ? b.url : a.url
            let refused = try await ServedProcess.call(
                .POST, other + "/api/sandbox/incoming", bearer: key, body: #"{"phone":"+60198765432","message":"x"}"#)
            #expect(refused.status == 503, "\(refused.json)")
            // Any node answers reads for any session.
            #expect(try await ServedProcess.call(.GET, other + "/api/session/status", bearer: key).status == 200)
        }

        // kill -9 node-b: node-a takes its two sessions once their leases expire (a lease and a round).
        await b.process.kill()
        let takeover = try await waitForOwners(database, within: .seconds(30), "node-a owning all after the kill") {
            $0.count == 4 && Set($0.values) == ["node-a"]
        }
        #expect(takeover.took < .milliseconds(Int64(Self.leaseSeconds * 1000 * 4 / 3)) + .seconds(8), "took \(takeover.took)")
        print("several nodes: kill -9 → takeover in \(takeover.took) (lease \(Self.leaseSeconds) s)")
        for (session, key) in keys { try await expectServed(session, key: key, by: a.url, "after the kill") }
        let metrics = try await text(a.url + "/metrics", bearer: try ServedProcess.announced("Admin token (shown once", in: a.output))
        #expect(metrics.contains("buzzbridge_session_leases_held 4"), "\(metrics)")
        #expect(metrics.contains(#"buzzbridge_session_leases_total{change="released"} 2"#), "the excess at node-b's start: \(metrics)")

        // node-b again, then SIGTERM node-a: it releases its leases before it exits (they do not
        // just run out), and node-b takes every session.
        b = try await start("node-b", database: database)
        _ = try await waitForOwners(database, within: .seconds(20), "two sessions each again") { owners in
            owners.count == 4 && owners.values.filter { $0 == "node-b" }.count == 2
        }
        let before = try await LeaseTable.earliestExpiry(of: "node-a", database)
        #expect(before.expiry > before.now)
        a.process.process.terminate()
        await a.process.terminate()
        #expect(a.process.process.terminationStatus == 0)
        let exited = try await LeaseTable.databaseNow(database)
        #expect(try await LeaseTable.named("node-a", database) == 0, "node-a released its leases before it exited")
        let handover = try await waitForOwners(database, within: .seconds(30), "node-b owning all after SIGTERM") {
            $0.count == 4 && Set($0.values) == ["node-b"]
        }
        print(
            "several nodes: SIGTERM → node-a exited \(before.expiry - exited) ms before its leases would have expired,"
                + " node-b owned all after \(handover.took)")
        for (session, key) in keys { try await expectServed(session, key: key, by: b.url, "after SIGTERM") }

        // The CLI shows the owners and the live nodes.
        let listed = try await BuzzBridgeExecutable.run(["sessions", "owners", "--database", database])
        #expect(listed.status == 0)
        #expect(listed.output.contains("live nodes: node-b"), "\(listed.output)")
        await b.process.terminate()
    }

    @Test func aMovedSessionGoesToItsNodeAndStaysThereWhileTheNodesRebalance() async throws {
        let database = try await PostgresTestServer.shared.newDatabaseURL()
        let a = try await start("node-a", database: database)
        let keys = try await pairedSessions(on: a, more: 1)
        let b = try await start("node-b", database: database)
        let spread = try await waitForOwners(database, within: .seconds(20), "one session each") { Set($0.values) == ["node-a", "node-b"] }
        let moved = try #require(spread.owners.first { $0.value == "node-a" }?.key)
        let other = try #require(spread.owners.first { $0.value == "node-b" }?.key)

        let move = try await BuzzBridgeExecutable.run(["sessions", "move", moved, "--to", "node-b", "--database", database])
        #expect(move.status == 0, "\(move.output)")
        // node-a hands the session over; node-b, above its share, gives its other one to node-a.
        _ = try await waitForOwners(database, within: .seconds(20), "the moved session on node-b, the other on node-a") {
            $0[moved] == "node-b" && $0[other] == "node-a"
        }
        try await expectServed(moved, key: try #require(keys[moved]), by: b.url, "moved")
        try await expectServed(other, key: try #require(keys[other]), by: a.url, "rebalanced")
        // Several rounds later it is still there.
        try await Task.sleep(for: .milliseconds(Int64(Self.leaseSeconds * 1000)))
        let later = try await LeaseTable.owners(database)
        #expect(later[moved] == "node-b" && later[other] == "node-a", "\(later)")
        let listed = try await BuzzBridgeExecutable.run(["sessions", "owners", "--database", database])
        #expect(listed.output.contains("node-a, node-b"), "\(listed.output)")
        await a.process.terminate()
        await b.process.terminate()
    }
}
