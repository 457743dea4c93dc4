import BuzzBridgeCore
import Foundation
import NIOHTTP1
import Testing

/// Sending through BuzzBridge's public interface only (the executable, HTTP, a webhook receiver)
/// to the server double's python-axolotl phones: what they decrypt, the statuses announced, the
/// refusals.
extension LiveEngineEndToEndTests {
    static let tom = "60111222333"

    /// What the double's simulated device `phone:device` decrypted, in order.
    func inbox(_ double: WhatsAppServerDouble, _ phone: String, device: Int) async throws -> [[String: Any]] {
        let contacts = try await double.ok(.GET, "/contacts")["contacts"] as? [[String: Any]] ?? []
        let devices = contacts.filter { $0["phone"] as? String == phone }.flatMap { $0["devices"] as? [[String: Any]] ?? [] }
        return devices.filter { $0["device"] as? Int == device }.flatMap { $0["inbox"] as? [[String: Any]] ?? [] }
    }

    /// The entry of `phone:device`'s inbox that decrypted to `text`.
    func decrypted(_ double: WhatsAppServerDouble, _ phone: String, device: Int, text: String) async throws -> [String: Any] {
        var found: [String: Any] = [:]
        try await eventually("\(phone):\(device) to decrypt \(text)") {
            guard let entry = try await inbox(double, phone, device: device).last(where: { $0["text"] as? String == text }) else { return false }
            found = entry
            return true
        }
        return found
    }

    /// The statuses `message.status` webhooks announced for `messageID`, in order of arrival.
    func statuses(_ receiver: WebhookReceiver, _ messageID: String) -> [String] {
        receiver.requests.filter { $0.json["event"] as? String == "message.status" }.compactMap { request -> String? in
            let data = request.json["data"] as? [String: Any]
            return data?["message_id"] as? String == messageID ? data?["status"] as? String : nil
        }
    }

    func send(_ base: String, _ setup: Setup, _ phone: String, _ text: String, replyTo: String? = nil) async throws -> (Int, [String: Any]) {
        var body: [String: Any] = ["phone": phone, "message": text]
        if let replyTo { body["reply_to"] = replyTo }
        let json = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
        return try await api(base, setup.apiKey, .POST, "/api/messages/send", json)
    }

    @Test func aTextAndAReplyReachEveryDeviceAndTheStatusesArriveInOrderAcrossAKillNine() async throws {
        let double = try await WhatsAppServerDouble()
        try await double.ok(.POST, "/contacts/defaults", ["own": phone])
        let receiver = try await WebhookReceiver.start()
        let setup = try await setUp(receiver: receiver, events: "session.status,message.status")
        defer { try? FileManager.default.removeItem(atPath: setup.data) }
        let first = try serve(setup, double)
        let base = try await first.baseURL()
        let jid = try await link(base, setup, double)

        let (sendStatus, answer) = try await send(base, setup, "+\(Self.tom)", "Your ticket #4411 is solved")
        #expect(sendStatus == 200, "\(answer)")
        let data = try #require(answer["data"] as? [String: Any])
        #expect(data["status"] as? String == "sent")
        let messageID = try #require(data["message_id"] as? String)

        // Both of Tom's devices and the account's own phone decrypt exactly that text.
        let onPhone = try await decrypted(double, Self.tom, device: 0, text: "Your ticket #4411 is solved")
        let onWeb = try await decrypted(double, Self.tom, device: 2, text: "Your ticket #4411 is solved")
        let onOwn = try await decrypted(double, phone, device: 0, text: "Your ticket #4411 is solved")
        let whatsAppID = try #require(onPhone["id"] as? String)
        #expect(whatsAppID.hasPrefix("3EB0") && onWeb["id"] as? String == whatsAppID && onOwn["id"] as? String == whatsAppID)
        #expect(onOwn["deviceSent"] != nil && onPhone["deviceSent"] == nil)

        // The phones' delivery receipts, then Tom reads it: sent → delivered → read at the webhook.
        try await eventually("delivered") { statuses(receiver, messageID).contains("delivered") }
        try await double.ok(.POST, "/contacts/receipt", ["from": Self.tom, "ids": [whatsAppID], "type": "read"])
        try await eventually("read") { statuses(receiver, messageID).contains("read") }
        #expect(statuses(receiver, messageID) == ["sent", "delivered", "read"], "\(statuses(receiver, messageID))")

        // A reply quotes it: the quoted id is the WhatsApp id, the quoted text the original.
        let (replyStatus, reply) = try await send(base, setup, "+\(Self.tom)", "Anything else?", replyTo: messageID)
        #expect(replyStatus == 200, "\(reply)")
        for (who, device) in [(Self.tom, 0), (Self.tom, 2), (phone, 0)] {
            let entry = try await decrypted(double, who, device: device, text: "Anything else?")
            let quoted = entry["quoted"] as? [String: Any]
            #expect(quoted?["id"] as? String == whatsAppID && quoted?["text"] as? String == "Your ticket #4411 is solved", "\(entry)")
        }

        // A number WhatsApp does not know: INVALID_PHONE_NUMBER, from usync.
        let (refused, error) = try await send(base, setup, "+60199999999", "hello?")
        #expect(refused == 400, "\(error)")
        #expect((error["error"] as? [String: Any])?["code"] as? String == "INVALID_PHONE_NUMBER", "\(error)")

        // kill -9, then the next message to Tom needs no usync and no prekeys: the device list,
        // the LID and the Signal sessions come from the store.
        await first.kill()
        let second = try serve(setup, double)
        let restartedBase = try await second.baseURL()
        try await eventually("connected again") { try await status(restartedBase, setup.apiKey)["connection"] as? String == "connected" }
        let (afterStatus, after) = try await send(restartedBase, setup, "+\(Self.tom)", "Still there?")
        #expect(afterStatus == 200, "\(after)")
        _ = try await decrypted(double, Self.tom, device: 2, text: "Still there?")
        let newest = try #require(try await double.clients().filter { $0["jid"] as? String == jid }.compactMap { $0["conn"] as? Int }.max())
        let connections = try await double.ok(.GET, "/transcript?conn=\(newest)")["connections"] as? [[String: Any]]
        let signatures = connections?.first?["signatures"] as? [String] ?? []
        #expect(signatures.contains { $0.hasPrefix("in message[") }, "\(signatures)")
        #expect(!signatures.contains { $0.contains("xmlns=encrypt]{key") || $0.contains("xmlns=usync") }, "\(signatures)")

        await second.terminate()
        await receiver.stop()
        await double.stop()
    }

    @Test func anAckThatNeverComesLeavesTheMessageFailed() async throws {
        let double = try await WhatsAppServerDouble()
        try await double.ok(.POST, "/contacts/defaults", ["own": phone])
        let receiver = try await WebhookReceiver.start()
        let setup = try await setUp(receiver: receiver, events: "session.status,message.status")
        defer { try? FileManager.default.removeItem(atPath: setup.data) }
        let server = try serve(setup, double, extra: ["--wa-ack-timeout", "2"])
        let base = try await server.baseURL()
        let jid = try await link(base, setup, double)
        try await double.ok(.POST, "/fault", ["jid": jid, "kind": "drop_messages"])

        let (sendStatus, answer) = try await send(base, setup, "+\(Self.tom)", "No ack for this one")
        #expect(sendStatus == 503, "\(answer)")
        #expect(((answer["error"] as? [String: Any])?["message"] as? String)?.contains("acknowledge") == true, "\(answer)")
        let (_, listed) = try await api(base, setup.apiKey, .GET, "/api/messages?phone=%2B\(Self.tom)")
        let messages = ((listed["data"] as? [String: Any])?["messages"] as? [[String: Any]]) ?? []
        let stored = try #require(messages.first { $0["message"] as? String == "No ack for this one" }, "\(listed)")
        #expect(stored["status"] as? String == "failed")
        #expect((try await double.state()["dropped"] as? [String])?.count == 1, "the message left once, whole")
        try await Task.sleep(for: .seconds(1))
        let id = try #require(stored["id"] as? String)
        #expect(statuses(receiver, id).isEmpty, "never announced as sent: \(statuses(receiver, id))")
        await server.terminate()
        await receiver.stop()
        await double.stop()
    }

    /// The phones' delivery receipts arrive while the server's ack never does: the message stays
    /// `delivered` (statuses never go backwards), the send answers with it, and no `failed` is
    /// stored or announced.
    @Test func aReceiptBeforeAMissedAckKeepsTheMessageDelivered() async throws {
        let double = try await WhatsAppServerDouble()
        try await double.ok(.POST, "/contacts/defaults", ["own": phone])
        let receiver = try await WebhookReceiver.start()
        let setup = try await setUp(receiver: receiver, events: "session.status,message.status")
        defer { try? FileManager.default.removeItem(atPath: setup.data) }
        let server = try serve(setup, double, extra: ["--wa-ack-timeout", "3"])
        let base = try await server.baseURL()
        let jid = try await link(base, setup, double)
        try await double.ok(.POST, "/fault", ["jid": jid, "kind": "no_ack_for_next_message"])

        let (sendStatus, answer) = try await send(base, setup, "+\(Self.tom)", "Receipt first, ack never")
        _ = try await decrypted(double, Self.tom, device: 0, text: "Receipt first, ack never")
        #expect(sendStatus == 200, "\(answer)")
        let data = try #require(answer["data"] as? [String: Any], "\(answer)")
        #expect(data["status"] as? String == "delivered", "\(data)")
        let id = try #require(data["message_id"] as? String)
        let (_, listed) = try await api(base, setup.apiKey, .GET, "/api/messages?phone=%2B\(Self.tom)")
        let messages = ((listed["data"] as? [String: Any])?["messages"] as? [[String: Any]]) ?? []
        let stored = try #require(messages.first { $0["id"] as? String == id }, "\(listed)")
        #expect(stored["status"] as? String == "delivered")
        try await eventually("the statuses at the webhook") { statuses(receiver, id).contains("delivered") }
        try await Task.sleep(for: .seconds(1))
        #expect(statuses(receiver, id) == ["sent", "delivered"], "\(statuses(receiver, id))")
        await server.terminate()
        await receiver.stop()
        await double.stop()
    }
}
