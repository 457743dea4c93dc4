import Foundation
import NIOHTTP1
import TestSupport
import Testing

/// A live session whose protocol state lives in PostgreSQL (`serve --database postgres://…`),
/// through BuzzBridge's public interface only, against the server double and its phones.
extension LiveEngineEndToEndTests {
    /// A live session and its webhook endpoint made with the CLI in `database`; the data folder
    /// stays without a database.
    func setUpOnPostgres(_ database: String, receiver: WebhookReceiver) async throws -> Setup {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-live-pg-\(UUID().uuidString)").path
        let created = try await BuzzBridgeExecutable.run([
            "sessions", "create", "--data", data, "--database", database, "--kind", "live", "--name", "OFYS Support",
        ])
        #expect(created.status == 0, "\(created.output)")
        func field(_ name: String) throws -> String {
            let line = try #require(created.output.split(separator: "\n").first { $0.hasPrefix(name + ":") })
            return try #require(line.split(separator: " ").dropFirst().first.map(String.init))
        }
        let setup = Setup(data: data, apiKey: try field("api_key"), sessionID: try field("session_id"))
        let webhook = try await BuzzBridgeExecutable.run([
            "webhooks", "set", "--data", data, "--database", database, "--session", setup.sessionID, "--url", receiver.url, "--secret",
            "live_secret", "--events", "session.status,message.received",
        ])
        #expect(webhook.status == 0, "\(webhook.output)")
        return setup
    }

    /// The distinct `message.received` deliveries of `text`.
    func receivedTexts(_ receiver: WebhookReceiver, _ text: String) -> [[String: Any]] {
        var seen = Set<String>()
        return receiver.requests.compactMap { request -> [String: Any]? in
            guard request.json["event"] as? String == "message.received", let data = request.json["data"] as? [String: Any],
                data["message"] as? String == text, let delivery = request.header("X-BuzzBridge-Delivery"), seen.insert(delivery).inserted
            else { return nil }
            return data
        }
    }

    @Test func aLiveSessionOnPostgreSQLPairsReceivesSendsAndKeepsItsSessionsAcrossKillNine() async throws {
        let database = try await PostgresTestServer.shared.newDatabaseURL()
        let double = try await WhatsAppServerDouble()
        try await double.ok(.POST, "/contacts/defaults", ["own": phone])
        let receiver = try await WebhookReceiver.start()
        let setup = try await setUpOnPostgres(database, receiver: receiver)
        defer { try? FileManager.default.removeItem(atPath: setup.data) }

        let first = try serve(setup, double, extra: ["--database", database])
        let base = try await first.baseURL()
        let jid = try await link(base, setup, double)
        // Active once its prekeys are up: the upload read them back from PostgreSQL.
        try await waitUntilActive(double, jid)

        // Tom's first message is a pkmsg: a prekey consumed, a Signal session made, the plaintext buffered.
        _ = try await double.ok(.POST, "/contacts/send", ["from": Self.tom, "to": phone, "text": "Hello from Tom on PG"])
        try await eventually("Tom's message at the webhook") { !receivedTexts(receiver, "Hello from Tom on PG").isEmpty }
        #expect(receivedTexts(receiver, "Hello from Tom on PG").first?["from"] as? String == "+" + Self.tom)
        let (sent, answer) = try await send(base, setup, "+\(Self.tom)", "Answer from PG")
        #expect(sent == 200, "\(answer)")
        _ = try await decrypted(double, Self.tom, device: 0, text: "Answer from PG")

        // kill -9: the restarted process logs in with the credentials PostgreSQL kept, and both
        // directions carry on in the same Signal sessions (a lost ratchet would not decrypt).
        await first.kill()
        let second = try serve(setup, double, extra: ["--database", database])
        let restarted = try await second.baseURL()
        try await eventually("connected again") { try await status(restarted, setup.apiKey)["connection"] as? String == "connected" }
        #expect(try await status(restarted, setup.apiKey)["status"] as? String == "active")
        #expect(try await double.clients().filter { $0["payload"] as? String == "registration" }.count == 1, "no second pairing")
        _ = try await double.ok(.POST, "/contacts/send", ["from": Self.tom, "to": phone, "text": "Still Tom, same session"])
        try await eventually("Tom's second message") { !receivedTexts(receiver, "Still Tom, same session").isEmpty }
        let (sentAgain, again) = try await send(restarted, setup, "+\(Self.tom)", "Still here, from PG")
        #expect(sentAgain == 200, "\(again)")
        _ = try await decrypted(double, Self.tom, device: 0, text: "Still here, from PG")
        let (_, listed) = try await api(restarted, setup.apiKey, .GET, "/api/messages?limit=100")
        let texts = ((listed["data"] as? [String: Any])?["messages"] as? [[String: Any]] ?? []).compactMap { $0["message"] as? String }
        #expect(Set(texts).isSuperset(of: ["Hello from Tom on PG", "Answer from PG", "Still Tom, same session", "Still here, from PG"]), "\(texts)")
        #expect(!FileManager.default.fileExists(atPath: setup.data + "/buzzbridge.sqlite"), "nothing in SQLite")

        await second.terminate()
        await receiver.stop()
        await double.stop()
    }
}

extension LiveEngineEndToEndTests {
    @Test func aLiveSessionPairedOnSQLiteCarriesOnInPostgreSQLAfterMigrateData() async throws {
        let double = try await WhatsAppServerDouble()
        try await double.ok(.POST, "/contacts/defaults", ["own": phone])
        let receiver = try await WebhookReceiver.start()
        let setup = try await setUp(receiver: receiver, events: "session.status,message.received")
        defer { try? FileManager.default.removeItem(atPath: setup.data) }

        // Paired and talking on SQLite: a Signal session with Tom exists in both directions.
        let onSQLite = try serve(setup, double)
        let base = try await onSQLite.baseURL()
        let jid = try await link(base, setup, double)
        try await waitUntilActive(double, jid)
        _ = try await double.ok(.POST, "/contacts/send", ["from": Self.tom, "to": phone, "text": "Before the move"])
        try await eventually("Tom's message on SQLite") { !receivedTexts(receiver, "Before the move").isEmpty }
        #expect(try await send(base, setup, "+\(Self.tom)", "Reply before the move").0 == 200)
        _ = try await decrypted(double, Self.tom, device: 0, text: "Reply before the move")
        await onSQLite.terminate()

        let database = try await PostgresTestServer.shared.newDatabaseURL()
        let copied = try await BuzzBridgeExecutable.run(["migrate-data", "--from", setup.data, "--to", database])
        #expect(copied.status == 0, "\(copied.output)")
        let sessionsLine = copied.output.split(separator: "\n").first { $0.hasPrefix("wa_signal_sessions ") }
        #expect(sessionsLine != nil && sessionsLine?.hasSuffix(" 0") == false, "\(copied.output)")

        // On PostgreSQL: the copied credentials log in (no new pairing) and the copied ratchets
        // carry on in both directions.
        let onPostgreSQL = try serve(setup, double, extra: ["--database", database])
        let moved = try await onPostgreSQL.baseURL()
        try await eventually("connected from PostgreSQL") { try await status(moved, setup.apiKey)["connection"] as? String == "connected" }
        #expect(try await double.clients().filter { $0["payload"] as? String == "registration" }.count == 1, "no second pairing")
        _ = try await double.ok(.POST, "/contacts/send", ["from": Self.tom, "to": phone, "text": "After the move"])
        try await eventually("Tom's message on PostgreSQL") { !receivedTexts(receiver, "After the move").isEmpty }
        #expect(try await send(moved, setup, "+\(Self.tom)", "Reply after the move").0 == 200)
        _ = try await decrypted(double, Self.tom, device: 0, text: "Reply after the move")
        let (_, listed) = try await api(moved, setup.apiKey, .GET, "/api/messages?limit=100")
        let texts = ((listed["data"] as? [String: Any])?["messages"] as? [[String: Any]] ?? []).compactMap { $0["message"] as? String }
        #expect(Set(texts).isSuperset(of: ["Before the move", "Reply before the move", "After the move", "Reply after the move"]), "\(texts)")

        await onPostgreSQL.terminate()
        await receiver.stop()
        await double.stop()
    }
}
