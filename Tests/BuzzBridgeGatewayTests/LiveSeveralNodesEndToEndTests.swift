import Foundation
import NIOHTTP1
import TestSupport
import Testing

/// A live session on two nodes sharing one PostgreSQL database, against the server double: only
/// the node holding the lease connects, and when it is killed the other logs the session in with
/// the stored credentials and carries on in the same Signal sessions.
extension LiveEngineEndToEndTests {
    @Test func aLiveSessionIsTakenOverByTheOtherNodeWhenItsOwnerIsKilled() async throws {
        let database = try await PostgresTestServer.shared.newDatabaseURL()
        let double = try await WhatsAppServerDouble()
        try await double.ok(.POST, "/contacts/defaults", ["own": phone])
        let receiver = try await WebhookReceiver.start()
        let setup = try await setUpOnPostgres(database, receiver: receiver)
        defer { try? FileManager.default.removeItem(atPath: setup.data) }
        func node(_ id: String) throws -> ServerProcess {
            try serve(setup, double, extra: ["--database", database, "--node-id", id, "--lease-duration", "9"])
        }

        let a = try node("node-a")
        let onA = try await a.baseURL()
        let jid = try await link(onA, setup, double)
        try await waitUntilActive(double, jid)
        _ = try await double.ok(.POST, "/contacts/send", ["from": Self.tom, "to": phone, "text": "Hello node-a"])
        try await eventually("Tom's message at the webhook") { !receivedTexts(receiver, "Hello node-a").isEmpty }
        #expect(try await send(onA, setup, "+\(Self.tom)", "Answer from node-a").0 == 200)
        _ = try await decrypted(double, Self.tom, device: 0, text: "Answer from node-a")
        let loginsOnA = try await logins(double, jid)

        // node-b runs beside it for several rounds: it never connects for the session, and a send
        // it accepts is queued for node-a, which sends it.
        let b = try node("node-b")
        let onB = try await b.baseURL()
        try await Task.sleep(for: .seconds(4))
        let (queued, answer) = try await send(onB, setup, "+\(Self.tom)", "Queued on node-b")
        #expect(queued == 200 && (answer["data"] as? [String: Any])?["status"] as? String == "pending", "\(answer)")
        _ = try await decrypted(double, Self.tom, device: 0, text: "Queued on node-b")
        #expect(try await logins(double, jid) == loginsOnA, "only the lease holder logs in")
        #expect(try await status(onB, setup.apiKey)["status"] as? String == "active", "any node answers reads")

        // kill -9 node-a: node-b takes the lease once it expires and logs in with the stored credentials.
        await a.kill()
        try await eventually("node-b to log in", within: .seconds(30)) { try await logins(double, jid) > loginsOnA }
        try await eventually("one logged-in connection") {
            try await double.clients().filter { $0["jid"] as? String == jid && $0["state"] as? String == "logged-in" }.count == 1
        }
        #expect(try await double.clients().filter { $0["payload"] as? String == "registration" }.count == 1, "no second pairing")
        _ = try await double.ok(.POST, "/contacts/send", ["from": Self.tom, "to": phone, "text": "Hello node-b"])
        try await eventually("Tom's message through node-b") { !receivedTexts(receiver, "Hello node-b").isEmpty }
        var sent = 0
        try await eventually("node-b to send") {
            sent = try await send(onB, setup, "+\(Self.tom)", "Answer from node-b").0
            return sent == 200
        }
        _ = try await decrypted(double, Self.tom, device: 0, text: "Answer from node-b")

        await b.terminate()
        await receiver.stop()
        await double.stop()
    }

    /// The database URL with another port (a relay's).
    private func database(_ url: String, port: Int) throws -> String {
        var components = try #require(URLComponents(string: url))
        components.port = port
        return try #require(components.string)
    }

    @Test func aNodeCutOffFromTheDatabaseDisconnectsBeforeItsLeaseExpiresAndTheOtherTakesOver() async throws {
        let direct = try await PostgresTestServer.shared.newDatabaseURL()
        let proxy = try CutProxy(to: try #require(URLComponents(string: direct)?.port))
        let throughProxy = try database(direct, port: try await proxy.port())
        let double = try await WhatsAppServerDouble()
        try await double.ok(.POST, "/contacts/defaults", ["own": phone])
        let receiver = try await WebhookReceiver.start()
        let setup = try await setUpOnPostgres(direct, receiver: receiver)
        defer { try? FileManager.default.removeItem(atPath: setup.data) }
        func node(_ id: String, _ url: String) throws -> ServerProcess {
            try serve(setup, double, extra: ["--database", url, "--node-id", id, "--lease-duration", "9"])
        }
        func loggedIn(_ jid: String) async throws -> Int {
            try await double.clients().filter { $0["jid"] as? String == jid && $0["state"] as? String == "logged-in" }.count
        }

        // node-a reaches the database through the relay; node-b directly.
        let a = try node("node-a", throughProxy)
        let onA = try await a.baseURL()
        let jid = try await link(onA, setup, double)
        try await waitUntilActive(double, jid)
        let b = try node("node-b", direct)
        let onB = try await b.baseURL()
        try await Task.sleep(for: .seconds(3))
        let loginsBefore = try await logins(double, jid)
        #expect(try await loggedIn(jid) == 1)

        // The cut: node-a can neither renew nor write. It must drop its WhatsApp connection before
        // its lease expires by the database's clock, so that the two nodes never both connect.
        try proxy.cut()
        let lease = try await LeaseTable.earliestExpiry(of: "node-a", direct)
        var most = 0
        var closedAt: Int64?
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .seconds(20) {
            let count = try await loggedIn(jid)
            most = max(most, count)
            if count == 0 {
                closedAt = try await LeaseTable.databaseNow(direct)
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let closed = try #require(closedAt, "node-a kept its connection")
        #expect(closed < lease.expiry, "node-a disconnected \(closed - lease.expiry) ms after its lease expired")
        print("several nodes: network cut → node-a disconnected \(lease.expiry - closed) ms before its lease expired")

        // node-b takes the lease once it expired and logs in; never two connections at once.
        let takeoverStart = ContinuousClock.now
        while ContinuousClock.now - takeoverStart < .seconds(30) {
            let count = try await loggedIn(jid)
            most = max(most, count)
            if count == 1, try await logins(double, jid) > loginsBefore { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(try await logins(double, jid) > loginsBefore, "node-b logged in")
        #expect(most <= 1, "two connections at once")
        #expect(try await LeaseTable.owners(direct).values.contains("node-b"))
        _ = try await double.ok(.POST, "/contacts/send", ["from": Self.tom, "to": phone, "text": "Across the cut"])
        try await eventually("Tom's message through node-b") { !receivedTexts(receiver, "Across the cut").isEmpty }
        try await eventually("node-b to send") { try await send(onB, setup, "+\(Self.tom)", "Answer across the cut").0 == 200 }
        _ = try await decrypted(double, Self.tom, device: 0, text: "Answer across the cut")

        await a.kill()
        await b.terminate()
        await proxy.stop()
        await receiver.stop()
        await double.stop()
    }
}
