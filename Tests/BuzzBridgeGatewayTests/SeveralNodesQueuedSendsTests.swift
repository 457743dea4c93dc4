import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TestSupport
import Testing

/// Sends accepted by the node that does not own the session: two `buzzbridge serve` processes on
/// one PostgreSQL database; the non-owner answers at once with the message `pending`, the owner
/// sends it (woken by `NOTIFY`), and a send queued while its owner is dead is sent by the node
/// that takes the session over, once.
@Suite("Several nodes: sends queued for the owner")
struct SeveralNodesQueuedSendsTests {
    private static let leaseSeconds = 9.0

    private struct Node {
        let process: ServerProcess
        let url: String
        let output: String
    }

    private func start(_ node: String, database: String, logs: Bool = false) async throws -> Node {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-queue-\(UUID().uuidString)").path
        let process = try ServerProcess(
            arguments: [
                "serve", "--data", data, "--port", "0", "--log-level", "error", "--node-id", node, "--lease-duration", "\(Self.leaseSeconds)",
                // The test polls the message list often, well past the default per-key budget.
                "--rate-limit", "100000",
            ],
            environment: ["BUZZBRIDGE_DATABASE_URL": database, "BUZZBRIDGE_WEBHOOK_ALLOW_PRIVATE": "1"], logs: logs
        )
        // The announcement, not the HTTP server's log line (the log is collected too with `logs`).
        let output = try await process.waitFor("BuzzBridge listening on ")
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("BuzzBridge listening on ") }),
            let url = line.split(separator: " ").first(where: { $0.hasPrefix("http://") })
        else { throw TestFailure("no address in: \(output)") }
        return Node(process: process, url: String(url), output: output)
    }

    /// The first start's sandbox session and one more, paired through `node`: session id → key.
    private func pairedSessions(on node: Node) async throws -> [String: String] {
        let admin = try ServedProcess.announced("Admin token (shown once", in: node.output)
        var keys: [String: String] = [:]
        let firstKey = try ServedProcess.announced("API key (shown once", in: node.output)
        let first = try await ServedProcess.call(.GET, node.url + "/api/session/status", bearer: firstKey)
        keys[try #require(first.data["session_id"] as? String)] = firstKey
        let made = try await ServedProcess.call(
            .POST, node.url + "/admin/api/sessions", bearer: admin, body: #"{"kind":"sandbox","name":"queue test"}"#)
        #expect(made.status == 201, "\(made.json)")
        let id = try #require((made.data["session"] as? [String: Any])?["session_id"] as? String)
        keys[id] = try #require(made.data["api_key"] as? String)
        for key in keys.values {
            #expect(try await ServedProcess.call(.GET, node.url + "/api/qr", bearer: key).status == 200)
            #expect(try await ServedProcess.call(.POST, node.url + "/api/sandbox/scan", bearer: key).status == 200)
        }
        return keys
    }

    private func waitForOwners(_ database: String, within limit: Duration, _ what: String, until done: ([String: String]) -> Bool) async throws
        -> [String: String]
    {
        let start = ContinuousClock.now
        var last: [String: String] = [:]
        while ContinuousClock.now - start < limit {
            last = try await LeaseTable.owners(database)
            if done(last) { return last }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("\(what) not within \(limit): \(last)")
    }

    /// The session's outgoing messages with `text`, as `url` lists them.
    private func messages(_ text: String, at url: String, key: String) async throws -> [[String: Any]] {
        let list = try await ServedProcess.call(.GET, url + "/api/messages?limit=100", bearer: key)
        guard list.status == 200 else { throw TestFailure("listing the messages: \(list.status) \(list.json)") }
        let all = list.data["messages"] as? [[String: Any]] ?? []
        return all.filter { $0["message"] as? String == text && $0["direction"] as? String == "outgoing" }
    }

    /// Polls until message `id` is `sent` or further (not failed); returns the time it took.
    private func waitUntilSent(_ id: String, text: String, at url: String, key: String, within limit: Duration) async throws -> Duration {
        let start = ContinuousClock.now
        var last = "none"
        while ContinuousClock.now - start < limit {
            if let message = try await messages(text, at: url, key: key).first(where: { $0["id"] as? String == id }) {
                last = message["status"] as? String ?? "?"
                if ["sent", "delivered", "read"].contains(last) { return ContinuousClock.now - start }
                if last == "failed" { throw TestFailure("message \(id) failed") }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestFailure("message \(id) not sent within \(limit): \(last)")
    }

    /// Waits for the `message.status` webhook saying message `id` is `status`.
    private func waitForStatusWebhook(_ receiver: WebhookReceiver, id: String, status: String, within limit: Duration) async throws {
        let deadline = ContinuousClock.now + limit
        var bodies: [String] = []
        while ContinuousClock.now < deadline {
            let requests = try await receiver.waitForRequests(Int.max, timeout: .milliseconds(100))
            bodies = requests.map { String(decoding: $0.body, as: UTF8.self) }
            if requests.contains(where: { request in
                let data = request.json["data"] as? [String: Any]
                return request.json["event"] as? String == "message.status" && data?["message_id"] as? String == id
                    && data?["status"] as? String == status
            }) {
                return
            }
        }
        throw TestFailure("no message.status \(status) webhook for \(id) within \(limit): \(bodies)")
    }

    private func send(_ text: String, via url: String, key: String, idempotencyKey: String? = nil) async throws -> ServedAnswer {
        let body = String(data: try JSONSerialization.data(withJSONObject: ["phone": "+60123456789", "message": text]), encoding: .utf8)!
        return try await ServedProcess.call(
            .POST, url + "/api/messages/send", bearer: key, body: body, headers: idempotencyKey.map { ["Idempotency-Key": $0] } ?? [:])
    }

    @Test func aSendOnTheNonOwnerIsQueuedAndSentByTheOwnerAndByTheNodeTakingOverAfterAKill() async throws {
        let database = try await PostgresTestServer.shared.newDatabaseURL()
        let a = try await start("node-a", database: database)
        let keys = try await pairedSessions(on: a)
        let b = try await start("node-b", database: database)
        let spread = try await waitForOwners(database, within: .seconds(20), "one session each") { Set($0.values) == ["node-a", "node-b"] }
        let ownedByA = try #require(spread.first { $0.value == "node-a" }?.key)
        let key = try #require(keys[ownedByA])
        let receiver = try await WebhookReceiver.start()
        let admin = try ServedProcess.announced("Admin token (shown once", in: a.output)
        let hook = try await ServedProcess.call(
            .POST, a.url + "/admin/api/sessions/\(ownedByA)/webhooks", bearer: admin,
            body: #"{"url":"http://127.0.0.1:\#(receiver.port)/hook","secret":"queue-secret-123","events":["message.status"]}"#)
        #expect(hook.status == 201, "\(hook.json)")

        // On node-b, which does not own the session: answered at once, pending, with the message's id.
        let text = "queued on the non-owner"
        let accepted = try await send(text, via: b.url, key: key)
        #expect(accepted.status == 200, "\(accepted.json)")
        #expect(accepted.data["status"] as? String == "pending", "\(accepted.json)")
        #expect(accepted.json["message"] as? String == "Message queued for sending", "\(accepted.json)")
        let id = try #require(accepted.data["message_id"] as? String)
        // node-a sends it; either node shows it sent.
        let took = try await waitUntilSent(id, text: text, at: b.url, key: key, within: .seconds(15))
        print("several nodes: queued send on the non-owner → sent by the owner in \(took)")
        _ = try await waitUntilSent(id, text: text, at: a.url, key: key, within: .seconds(5))
        // The caller was answered pending: `sent` comes as a webhook.
        try await waitForStatusWebhook(receiver, id: id, status: "sent", within: .seconds(15))
        #expect(try await messages(text, at: a.url, key: key).count == 1)

        // With an Idempotency-Key: a repeat on either node gets the first answer and sends nothing.
        let first = try await send("keyed", via: b.url, key: key, idempotencyKey: "queue-key-1")
        #expect(first.status == 200 && first.data["status"] as? String == "pending", "\(first.json)")
        let keyedID = try #require(first.data["message_id"] as? String)
        _ = try await waitUntilSent(keyedID, text: "keyed", at: a.url, key: key, within: .seconds(15))
        let again = try await send("keyed", via: b.url, key: key, idempotencyKey: "queue-key-1")
        #expect(again.status == 200 && again.data["message_id"] as? String == keyedID, "\(again.json)")
        #expect(again.headers.first(name: "Idempotent-Replayed") == "true")
        #expect(try await messages("keyed", at: a.url, key: key).count == 1)

        // kill -9 node-a, then a send on node-b while node-a's lease still holds: queued; node-b
        // takes the session when the lease expires and sends it, once.
        await a.process.kill()
        let orphan = "queued while the owner is dead"
        let queued = try await send(orphan, via: b.url, key: key)
        #expect(queued.status == 200 && queued.data["status"] as? String == "pending", "\(queued.json)")
        let orphanID = try #require(queued.data["message_id"] as? String)
        let takeover = try await waitUntilSent(orphanID, text: orphan, at: b.url, key: key, within: .seconds(30))
        print("several nodes: send queued while the owner was killed → sent by the node taking over in \(takeover) (lease \(Self.leaseSeconds) s)")
        let owners = try await LeaseTable.owners(database)
        #expect(owners[ownedByA] == "node-b", "\(owners)")
        #expect(try await messages(orphan, at: b.url, key: key).count == 1)
        try await waitForStatusWebhook(receiver, id: orphanID, status: "sent", within: .seconds(15))
        // Now node-b owns it: a send there goes straight out, as on one node.
        let direct = try await send("direct on the owner", via: b.url, key: key)
        #expect(direct.status == 200 && direct.data["status"] as? String == "sent", "\(direct.json)")
        // Graceful shutdown ends the listening connection too.
        await b.process.terminate()
        #expect(b.process.process.terminationStatus == 0)
        await receiver.stop()
    }
}
