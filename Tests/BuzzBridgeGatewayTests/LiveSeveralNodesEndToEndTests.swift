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
            try serve(setup, double, extra: ["--database", database, "--node-id", id, "--lease-duration", "4.5"])
        }

        let a = try node("node-a")
        let onA = try await a.baseURL()
        let jid = try await link(onA, setup, double)
        try await eventually("the device to be logged in and active") {
            try await double.clients().contains {
                $0["jid"] as? String == jid && $0["state"] as? String == "logged-in" && $0["active"] as? Bool == true
            }
        }
        _ = try await double.ok(.POST, "/contacts/send", ["from": Self.tom, "to": phone, "text": "Hello node-a"])
        try await eventually("Tom's message at the webhook") { !receivedTexts(receiver, "Hello node-a").isEmpty }
        #expect(try await send(onA, setup, "+\(Self.tom)", "Answer from node-a").0 == 200)
        _ = try await decrypted(double, Self.tom, device: 0, text: "Answer from node-a")
        let loginsOnA = try await logins(double, jid)

        // node-b runs beside it for several rounds: it neither connects nor sends for the session.
        let b = try node("node-b")
        let onB = try await b.baseURL()
        try await Task.sleep(for: .seconds(4))
        #expect(try await logins(double, jid) == loginsOnA, "only the lease holder logs in")
        let (refused, answer) = try await send(onB, setup, "+\(Self.tom)", "Not from node-b")
        #expect(refused == 503, "\(answer)")
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
}
