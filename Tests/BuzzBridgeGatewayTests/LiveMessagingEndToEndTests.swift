import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TestSupport
import Testing

/// Receiving messages on a live session through BuzzBridge's public interface only: the built
/// executable, its CLI, HTTP and a webhook receiver, against the server double's phones (played
/// by python-axolotl, an independent Signal implementation).
@Suite("Live messaging end to end against the server double's phones", .serialized)
struct LiveMessagingEndToEndTests {
    private let phone = "60123456789"
    private let tom = "60111222333"
    private let lena = "60144455566"

    private struct Setup {
        let data: String
        let apiKey: String
        /// `postgres://…` when the deployment keeps its data in PostgreSQL.
        var database: String? = nil

        var databaseArguments: [String] { database.map { ["--database", $0] } ?? [] }
    }

    private func setUp(receiver: WebhookReceiver, database: String? = nil) async throws -> Setup {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-live-msg-\(UUID().uuidString)").path
        let databaseArguments = database.map { ["--database", $0] } ?? []
        let created = try await BuzzBridgeExecutable.run(
            ["sessions", "create", "--data", data, "--kind", "live", "--name", "OFYS Support"] + databaseArguments)
        #expect(created.status == 0, "\(created.output)")
        func field(_ name: String) throws -> String {
            let line = try #require(created.output.split(separator: "\n").first { $0.hasPrefix(name + ":") })
            return try #require(line.split(separator: " ").dropFirst().first.map(String.init))
        }
        let sessionID = try field("session_id")
        let webhook = try await BuzzBridgeExecutable.run(
            ["webhooks", "set", "--data", data, "--session", sessionID, "--url", receiver.url, "--secret", "live_secret"] + databaseArguments)
        #expect(webhook.status == 0, "\(webhook.output)")
        return Setup(data: data, apiKey: try field("api_key"), database: database)
    }

    private func serve(_ setup: Setup, _ double: WhatsAppServerDouble, environment: [String: String] = [:]) throws -> ServerProcess {
        try ServerProcess(
            arguments: [
                "serve", "--data", setup.data, "--port", "0", "--webhook-allow-private-addresses", "--webhook-retry-delays", "1",
                "--log-level", "warning",
            ] + double.serveArguments + setup.databaseArguments, environment: environment, logs: true)
    }

    private func api(_ base: String, _ key: String, _ method: HTTPMethod, _ path: String) async throws -> (Int, [String: Any]) {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        let response = try await TestGateway.client.execute(request, timeout: .seconds(60))
        let data = try await response.body.collect(upTo: 1 << 24)
        return (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(data.readableBytesView))) as? [String: Any] ?? [:])
    }

    private func eventually(_ what: String, within timeout: Duration = .seconds(40), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("timed out waiting for \(what)")
    }

    /// Links the session by QR and waits until it is connected and has set up its prekeys.
    private func link(_ base: String, _ setup: Setup, _ double: WhatsAppServerDouble) async throws {
        let (_, qr) = try await api(base, setup.apiKey, .GET, "/api/qr")
        let uri = try #require((qr["data"] as? [String: Any])?["qr_code"] as? String)
        let png = try #require(Data(base64Encoded: String(uri.dropFirst("data:image/png;base64,".count))))
        let decoded = try JSONSerialization.jsonObject(with: try await PythonPeer.check("qr_decode.py", input: png)) as? [[String: Any]]
        let scanned = try await double.ok(.POST, "/phone/scan", ["qr": try #require(decoded?.first?["text"] as? String), "phone": phone])
        let jid = try #require(scanned["jid"] as? String)
        // Active once its prekeys are up (passive/active follows the upload).
        try await eventually("the device to be logged in and active") {
            try await double.clients().contains {
                $0["jid"] as? String == jid && $0["state"] as? String == "logged-in" && $0["active"] as? Bool == true
            }
        }
    }

    /// The `message.received` bodies' `data` for WhatsApp-side deliveries of `text`, distinct by delivery id.
    private func received(_ receiver: WebhookReceiver, text: String) -> [[String: Any]] {
        var seen = Set<String>()
        return receiver.requests.compactMap { request -> [String: Any]? in
            guard request.json["event"] as? String == "message.received", let data = request.json["data"] as? [String: Any],
                data["message"] as? String == text, let delivery = request.header("X-BuzzBridge-Delivery"), seen.insert(delivery).inserted
            else { return nil }
            return data
        }
    }

    private func messages(_ base: String, _ key: String) async throws -> [[String: Any]] {
        (try await api(base, key, .GET, "/api/messages?limit=100").1["data"] as? [String: Any])?["messages"] as? [[String: Any]] ?? []
    }

    private func receipts(_ double: WhatsAppServerDouble, id: String) async throws -> [String] {
        let sent = try await double.ok(.GET, "/contacts")["sent"] as? [[String: Any]] ?? []
        return (sent.first { $0["id"] as? String == id }?["receipts"] as? [[String: Any]] ?? []).compactMap { $0["type"] as? String }
    }

    private func send(_ double: WhatsAppServerDouble, _ body: [String: Any]) async throws -> String {
        try #require(try await double.ok(.POST, "/contacts/send", body)["id"] as? String)
    }

    @Test func contactsGroupsTheOwnPhoneAndACorruptedMessage() async throws {
        let double = try await WhatsAppServerDouble()
        let receiver = try await WebhookReceiver.start()
        let setup = try await setUp(receiver: receiver)
        defer { try? FileManager.default.removeItem(atPath: setup.data) }
        let server = try serve(setup, double)
        let base = try await server.baseURL()
        try await link(base, setup, double)
        try await double.ok(.POST, "/contacts/defaults", ["own": phone])

        // Tom (phone-number addressed) sends twice: a pkmsg, then the next message of the session.
        let first = try await send(double, ["from": tom, "to": phone, "text": "Ticket 4711: any news?"])
        try await eventually("Tom's first message at the webhook") { !received(receiver, text: "Ticket 4711: any news?").isEmpty }
        let tomFirst = try #require(received(receiver, text: "Ticket 4711: any news?").first)
        #expect(tomFirst["from"] as? String == "+" + tom)
        #expect(tomFirst["from_name"] as? String == "Tom Two-Devices")
        #expect(tomFirst["to"] as? String == "+" + phone)
        #expect(tomFirst["has_media"] as? Bool == false)
        #expect(tomFirst["group"] == nil)
        #expect((tomFirst["lid"] as? String)?.isEmpty == false)
        try await eventually("the delivery receipt, after storing") {
            try await !Set(receipts(double, id: first)).isDisjoint(with: ["delivery", "inactive"])
        }
        _ = try await send(double, ["from": tom, "to": phone, "text": "Second line"])
        try await eventually("Tom's second message") { !received(receiver, text: "Second line").isEmpty }

        // Lena is known by LID only: her phone number still comes out, never the LID.
        _ = try await send(double, ["from": lena, "to": phone, "text": "Hello from Lena"])
        try await eventually("Lena's message") { !received(receiver, text: "Hello from Lena").isEmpty }
        let fromLena = try #require(received(receiver, text: "Hello from Lena").first)
        #expect(fromLena["from"] as? String == "+" + lena)
        #expect(fromLena["from_name"] as? String == "Lena Lid")

        // A group message: stored with its group, announced as from the group.
        let group = try #require(
            try await double.ok(.POST, "/groups", ["subject": "Support", "participants": [tom, lena, phone]])["jid"] as? String)
        _ = try await send(double, ["from": lena, "group": group, "text": "Hello group"])
        try await eventually("the group message") { !received(receiver, text: "Hello group").isEmpty }
        let inGroup = try #require(received(receiver, text: "Hello group").first)
        #expect((inGroup["group"] as? [String: Any])?["id"] as? String == group)
        #expect((inGroup["group"] as? [String: Any])?["subject"] as? String == "Support")
        #expect(inGroup["from"] as? String == "+" + lena)

        // A corrupted message: a retry receipt, then the re-sent message, stored and announced once.
        let garbled = try await send(double, ["from": tom, "to": phone, "text": "Sent twice, shown once", "corrupt": true])
        try await eventually("the re-sent message") { !received(receiver, text: "Sent twice, shown once").isEmpty }
        #expect(try await receipts(double, id: garbled).contains("retry"))
        try await Task.sleep(for: .seconds(1))
        #expect(received(receiver, text: "Sent twice, shown once").count == 1)

        // The account's own phone writes to Tom: stored as outgoing, not announced as received.
        _ = try await send(double, ["from": phone, "to": tom, "text": "Written on my phone"])
        try await eventually("the own phone's message in the API") {
            try await messages(base, setup.apiKey).contains { $0["message"] as? String == "Written on my phone" }
        }
        let own = try #require(try await messages(base, setup.apiKey).first { $0["message"] as? String == "Written on my phone" })
        #expect(own["direction"] as? String == "outgoing")
        #expect(own["to"] as? String == "+" + tom)
        #expect(own["from"] as? String == "+" + phone)

        let all = try await messages(base, setup.apiKey)
        #expect(all.filter { $0["message"] as? String == "Sent twice, shown once" }.count == 1)
        #expect(all.allSatisfy { ($0["from"] as? String)?.hasPrefix("+") == true }, "never a LID as the sender: \(all)")
        let stored = try #require(all.first { $0["message"] as? String == "Hello group" })
        #expect((stored["group"] as? [String: Any])?["id"] as? String == group)
        #expect((stored["group"] as? [String: Any])?["subject"] as? String == "Support")
        #expect(stored["lid"] is String)

        // Read through the API: the read receipt goes to the chat the message came from.
        let lenaMessage = try #require(all.first { $0["message"] as? String == "Hello from Lena" })
        let (readStatus, _) = try await api(base, setup.apiKey, .POST, "/api/messages/\(try #require(lenaMessage["id"] as? String))/read")
        #expect(readStatus == 200)
        try await eventually("the read receipt at Lena's phone") {
            let contacts = try await double.ok(.GET, "/contacts")["sent"] as? [[String: Any]] ?? []
            return contacts.contains { entry in
                entry["text"] as? String == "Hello from Lena"
                    && (entry["receipts"] as? [[String: Any]] ?? []).contains { $0["type"] as? String == "read" }
            }
        }

        await server.terminate()
        await receiver.stop()
        await double.stop()
    }

    /// On SQLite and on PostgreSQL: the plaintext is stored in the ratchet step's transaction.
    @Test(arguments: [false, true])
    func aCrashBetweenDecryptingAndStoringLosesNothingAndStoresOnce(onPostgreSQL: Bool) async throws {
        let double = try await WhatsAppServerDouble()
        let receiver = try await WebhookReceiver.start()
        let database = onPostgreSQL ? try await PostgresTestServer.shared.newDatabaseURL() : nil
        let setup = try await setUp(receiver: receiver, database: database)
        defer { try? FileManager.default.removeItem(atPath: setup.data) }
        let first = try serve(setup, double)
        try await link(try await first.baseURL(), setup, double)
        try await double.ok(.POST, "/contacts/defaults", ["own": phone])
        await first.kill()

        // This run dies (as kill -9 would) right after decrypting, before storing.
        let crashing = try serve(setup, double, environment: ["BUZZBRIDGE_TEST_CRASH_BEFORE_STORING": "1"])
        let crashingBase = try await crashing.baseURL()
        try await eventually("the session to be connected again") {
            try await api(crashingBase, setup.apiKey, .GET, "/api/session/status").1["data"].flatMap { $0 as? [String: Any] }?["connection"]
                as? String == "connected"
        }
        let id = try await send(double, ["from": lena, "to": phone, "text": "Survives a crash"])
        _ = try await crashing.waitFor("fault injection: exiting", timeout: .seconds(40))
        await crashing.kill()
        #expect(received(receiver, text: "Survives a crash").isEmpty)

        // Restarted: WhatsApp delivers the same ciphertext again; the decrypt buffer answers it.
        let second = try serve(setup, double)
        let base = try await second.baseURL()
        try await eventually("the message after the restart") { !received(receiver, text: "Survives a crash").isEmpty }
        // Re-delivered right after the login, before presence: an `inactive` delivery receipt is as good.
        try await eventually("the delivery receipt") { try await !Set(receipts(double, id: id)).isDisjoint(with: ["delivery", "inactive"]) }
        try await Task.sleep(for: .seconds(1))
        #expect(received(receiver, text: "Survives a crash").count == 1)
        let stored = try await messages(base, setup.apiKey).filter { $0["message"] as? String == "Survives a crash" }
        #expect(stored.count == 1)
        #expect(stored.first?["from"] as? String == "+" + lena)
        #expect(FileManager.default.fileExists(atPath: setup.data + "/buzzbridge.sqlite") == !onPostgreSQL, "the backend asked for")

        await second.terminate()
        await receiver.stop()
        await double.stop()
    }

    /// A contact known only by LID whose stanzas carry no `sender_pn`: BuzzBridge asks usync for
    /// the number, so the message arrives once with the E.164 phone and the LID in `lid`.
    @Test func aSenderKnownOnlyByLIDWithoutSenderPNArrivesWithItsPhoneNumber() async throws {
        let double = try await WhatsAppServerDouble()
        let receiver = try await WebhookReceiver.start()
        let setup = try await setUp(receiver: receiver)
        defer { try? FileManager.default.removeItem(atPath: setup.data) }
        let server = try serve(setup, double)
        let base = try await server.baseURL()
        try await link(base, setup, double)
        let hidden = "60177788899"
        let account = try await double.ok(.POST, "/contacts", ["phone": hidden, "pushName": "Hana Hidden", "addressing": "lid", "senderPn": false])
        let lid = try #require((account["lid"] as? String)?.split(separator: "@").first.map(String.init))

        let id = try await send(double, ["from": hidden, "to": phone, "text": "No number in this stanza"])
        try await eventually("Hana's message at the webhook") { !received(receiver, text: "No number in this stanza").isEmpty }
        try await eventually("the delivery receipt") { try await !Set(receipts(double, id: id)).isDisjoint(with: ["delivery", "inactive"]) }
        try await Task.sleep(for: .seconds(1))
        let announced = received(receiver, text: "No number in this stanza")
        #expect(announced.count == 1)
        #expect(announced.first?["from"] as? String == "+" + hidden)
        #expect(announced.first?["lid"] as? String == lid)
        #expect(announced.first?["from_name"] as? String == "Hana Hidden")
        let stored = try await messages(base, setup.apiKey).filter { $0["message"] as? String == "No number in this stanza" }
        #expect(stored.count == 1)
        #expect(stored.first?["from"] as? String == "+" + hidden)
        #expect(stored.allSatisfy { !(($0["from"] as? String) ?? "").contains("@") })

        await server.terminate()
        await receiver.stop()
        await double.stop()
    }
}
