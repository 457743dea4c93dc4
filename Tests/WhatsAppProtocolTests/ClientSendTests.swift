import Foundation
import SignalProtocol
import TestSupport
import Testing

@testable import WhatsAppProtocol

/// Sending against the server double's phones, which are played by python-axolotl (an
/// independent Signal implementation): Tom with a phone and a web client, Lena known by LID, and
/// the account's own phone. What they decrypt is read back through the double's control API.
@Suite(.serialized) struct ClientSendTests {
    static let tom = "60111222333"
    static let lena = "60144455566"

    /// A paired, settled client whose double knows the default contacts.
    static func start(_ double: ServerDouble, adjust: (inout WhatsAppClientOptions) -> Void = { _ in }) async throws -> ClientDoubleTests.Paired {
        try await double.ok("POST", "/contacts/defaults", ["own": ClientDoubleTests.phone])
        let store = InMemoryClientStateStore()
        var options = double.options()
        adjust(&options)
        let client = WhatsAppClient(store: store, options: options)
        let log = EventLog(client)
        try await client.start()
        guard case .qrCode(let offer) = try await log.next("a QR code", ClientDoubleTests.isQR) else {
            throw ServerDouble.Failure(description: "no QR")
        }
        let scanned = try await double.ok("POST", "/phone/scan", ["qr": offer.code, "phone": ClientDoubleTests.phone])
        try await log.next("login after pairing", ClientDoubleTests.isLoggedIn)
        let jid = try JID(parsing: scanned["jid"] as? String ?? "")
        try await ClientDoubleTests.settled(double, jid)
        return ClientDoubleTests.Paired(client: client, log: log, store: store, jid: jid)
    }

    /// What the double's simulated device `phone:device` decrypted of messages with `id`.
    static func inbox(_ double: ServerDouble, _ phone: String, device: Int, id: String) async throws -> [[String: Any]] {
        let contacts = try await double.ok("GET", "/contacts")["contacts"] as? [[String: Any]] ?? []
        let devices = contacts.filter { $0["phone"] as? String == phone }.flatMap { $0["devices"] as? [[String: Any]] ?? [] }
        let inbox = devices.filter { $0["device"] as? Int == device }.flatMap { $0["inbox"] as? [[String: Any]] ?? [] }
        return inbox.filter { $0["id"] as? String == id }
    }

    /// Waits until `phone:device` has an entry for `id` that decrypted (or failed), returns the last.
    static func received(
        _ double: ServerDouble, _ phone: String, device: Int, id: String, where accept: @escaping ([String: Any]) -> Bool = { _ in true }
    )
        async throws -> [String: Any]
    {
        var found: [String: Any] = [:]
        try await double.eventually("\(phone):\(device) to decrypt \(id)") {
            guard let last = try await inbox(double, phone, device: device, id: id).last(where: { $0["text"] != nil || $0["error"] != nil }),
                accept(last)
            else { return false }
            found = last
            return true
        }
        return found
    }

    @Test func aTextAndAReplyReachEveryDeviceOfTheContactAndTheOwnPhone() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        let paired = try await Self.start(double)
        let client = paired.client

        let id = await client.newMessageID()
        #expect(id.hasPrefix("3EB0") && id.count == 22 && id.allSatisfy { $0.isHexDigit && !$0.isLowercase })
        let sent = try await client.sendMessage(id: id, to: .user(Self.tom), content: try TextMessage.content("Your ticket #4411 is solved"))
        #expect(sent.chat.isLID, "current WhatsApp wants the LID: \(sent.chat)")
        #expect(sent.participantHashMatched == true, "phash")
        #expect(Set(sent.devices.map(\.device)).isSuperset(of: [0, 2]))
        let tomLID = sent.chat
        #expect(try await paired.store.lid(forPhone: .user(Self.tom)) == tomLID)
        #expect(try await paired.store.deviceList(of: tomLID)?.devices.map(\.device).sorted() == [0, 2])

        for device in [0, 2] {
            let entry = try await Self.received(double, Self.tom, device: device, id: id)
            #expect(entry["text"] as? String == "Your ticket #4411 is solved", "\(entry)")
            #expect(entry["error"] == nil && entry["deviceSent"] == nil)
            #expect(entry["encTypes"] as? [String] == ["pkmsg"])
        }
        let own = try await Self.received(double, ClientDoubleTests.phone, device: 0, id: id)
        #expect(own["text"] as? String == "Your ticket #4411 is solved", "\(own)")
        #expect((own["deviceSent"] as? [String: Any])?["destinationJID"] as? String == tomLID.description)

        // The server's record: one stanza, with device-identity because the parts were pkmsg.
        let relayed = try #require((try await double.ok("GET", "/state")["messages"] as? [[String: Any]])?.first { $0["id"] as? String == id })
        #expect(relayed["to"] as? String == tomLID.description)

        // A reply quotes the message: stanza id, sender, text.
        let replyID = await client.newMessageID()
        #expect(replyID != id)
        let quote = TextMessage.Quote(stanzaID: id, participant: tomLID, text: "Your ticket #4411 is solved")
        _ = try await client.sendMessage(id: replyID, to: .user(Self.tom), content: try TextMessage.content("Anything else?", quoting: quote))
        for (phone, device) in [(Self.tom, 0), (Self.tom, 2), (ClientDoubleTests.phone, 0)] {
            let entry = try await Self.received(double, phone, device: device, id: replyID)
            #expect(entry["text"] as? String == "Anything else?", "\(entry)")
            let quoted = entry["quoted"] as? [String: Any]
            #expect(quoted?["id"] as? String == id && quoted?["text"] as? String == "Your ticket #4411 is solved", "\(entry)")
            #expect(quoted?["participant"] as? String == tomLID.description)
        }
    }

    @Test func aNumberNotOnWhatsAppIsRefusedBeforeAnythingIsSent() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        let paired = try await Self.start(double)
        let id = await paired.client.newMessageID()
        await #expect(throws: SendFailure.notOnWhatsApp("60199999999")) {
            _ = try await paired.client.sendMessage(id: id, to: .user("60199999999"), content: try TextMessage.content("hello?"))
        }
        let relayed = try await double.ok("GET", "/state")["messages"] as? [[String: Any]] ?? []
        #expect(!relayed.contains { $0["id"] as? String == id }, "nothing left")

        // The LID-only contact: sent by LID with peer_recipient_pn.
        let lenaID = await paired.client.newMessageID()
        let sent = try await paired.client.sendMessage(id: lenaID, to: .user(Self.lena), content: try TextMessage.content("Hi Lena"))
        #expect(sent.chat.isLID)
        let entry = try await Self.received(double, Self.lena, device: 0, id: lenaID)
        #expect(entry["text"] as? String == "Hi Lena", "\(entry)")
    }

    @Test func afterTheContactAnsweredARestartSendsAMsgOnTheStoredSession() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        let paired = try await Self.start(double)
        let first = await paired.client.newMessageID()
        let sent = try await paired.client.sendMessage(id: first, to: .user(Self.lena), content: try TextMessage.content("first"))
        _ = try await Self.received(double, Self.lena, device: 0, id: first)

        // Lena answers on the session the send built (a msg): the receive path decrypts it under her LID.
        let answer = try await double.ok("POST", "/contacts/send", ["from": Self.lena, "to": ClientDoubleTests.phone, "text": "thanks"])
        let answerID = try #require(answer["id"] as? String)
        guard
            case .message(let received) = try await paired.log.next(
                "Lena's answer",
                { event in
                    if case .message(let message) = event { return message.id == answerID }
                    return false
                })
        else { return }
        #expect(received.source.sender.isLID && received.source.sender.withoutDevice == sent.chat)
        #expect(received.content.text == "thanks")
        await paired.client.confirm(received.delivery)

        // A new client on the same store: no prekey fetch, a msg.
        await paired.client.stop()
        let again = WhatsAppClient(store: paired.store, options: double.options())
        let log = EventLog(again)
        try await again.start()
        try await log.next("login", ClientDoubleTests.isLoggedIn)
        try await ClientDoubleTests.settled(double, paired.jid)
        let second = await again.newMessageID()
        _ = try await again.sendMessage(id: second, to: .user(Self.lena), content: try TextMessage.content("second"))
        let entry = try await Self.received(double, Self.lena, device: 0, id: second)
        #expect(entry["text"] as? String == "second")
        #expect(entry["encTypes"] as? [String] == ["msg"], "\(entry)")
        let newest = try #require(try await ClientDoubleTests.connections(double, payload: "login", jid: paired.jid).last)
        let connections = try await double.ok("GET", "/transcript?conn=\(newest)")["connections"] as? [[String: Any]]
        let asked = connections?.first?["signatures"] as? [String] ?? []
        #expect(asked.contains { $0.hasPrefix("in message[") }, "the transcript holds the message: \(asked)")
        #expect(!asked.contains { $0.contains("xmlns=encrypt]{key") }, "no prekey fetch after the restart: \(asked)")
    }

    @Test func aRetryReceiptIsAnsweredAndTheSecondOnANewSessionFromItsKeys() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        let paired = try await Self.start(double)
        try await double.ok("POST", "/contacts/fail-next", ["device": "\(Self.tom):2", "count": 2])
        let id = await paired.client.newMessageID()
        _ = try await paired.client.sendMessage(id: id, to: .user(Self.tom), content: try TextMessage.content("retry me"))
        let entry = try await Self.received(double, Self.tom, device: 2, id: id) { $0["text"] != nil }
        #expect(entry["text"] as? String == "retry me", "\(entry)")
        #expect(entry["count"] as? Int == 2, "the second re-send carries count 2: \(entry)")
        for _ in 0..<2 {
            try await paired.log.next("a retry answered") { event in
                if case .retryReceipt(let messageID, _, let resent, _) = event { return messageID == id && resent }
                return false
            }
        }
        // The phone, not asked to fail, decrypted the first copy.
        #expect(try await Self.received(double, Self.tom, device: 0, id: id)["text"] as? String == "retry me")
    }

    @Test func aDevicesNotificationDropsTheStoredListAndTheNewDeviceGetsTheNextMessage() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        let paired = try await Self.start(double)
        let first = await paired.client.newMessageID()
        let sent = try await paired.client.sendMessage(id: first, to: .user(Self.tom), content: try TextMessage.content("one"))
        #expect(try await paired.store.deviceList(of: sent.chat) != nil)
        try await double.ok("POST", "/contacts/device", ["phone": Self.tom, "add": 3])
        try await double.eventually("the stored list to be dropped") { try await paired.store.deviceList(of: sent.chat) == nil }
        let second = await paired.client.newMessageID()
        let again = try await paired.client.sendMessage(id: second, to: .user(Self.tom), content: try TextMessage.content("two"))
        #expect(again.devices.contains { $0.device == 3 } && again.participantHashMatched == true)
        #expect(try await Self.received(double, Self.tom, device: 3, id: second)["text"] as? String == "two")
    }

    @Test func anAckThatNeverComesFailsTheSend() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        let paired = try await Self.start(double) { $0.messageAckTimeout = .seconds(2) }
        try await double.ok("POST", "/fault", ["jid": paired.jid.description, "kind": "drop_messages"])
        let id = await paired.client.newMessageID()
        let started = ContinuousClock.now
        await #expect(throws: SendFailure.ackTimedOut) {
            _ = try await paired.client.sendMessage(id: id, to: .user(Self.tom), content: try TextMessage.content("lost ack"))
        }
        #expect(ContinuousClock.now - started >= .seconds(2))
        #expect(try await double.ok("GET", "/state")["dropped"] as? [String] == [id], "it left once, as one stanza")
    }

    @Test func receiptsArriveForTheOwnerToRecordAndAcknowledge() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        let paired = try await Self.start(double)
        let id = await paired.client.newMessageID()
        _ = try await paired.client.sendMessage(id: id, to: .user(Self.tom), content: try TextMessage.content("tick tick"))
        guard
            case .stanza(let delivery) = try await paired.log.next(
                "a delivery receipt",
                { event in
                    if case .stanza(let node) = event, let receipt = Receipt(node) { return receipt.messageIDs == [id] && receipt.kind == .delivered }
                    return false
                })
        else { return }
        #expect(Receipt(delivery)?.sender.isLID == true)
        await paired.client.acknowledge(delivery)
        _ = try await Self.received(double, Self.tom, device: 0, id: id)
        try await double.ok("POST", "/contacts/receipt", ["from": Self.tom, "ids": [id], "type": "read"])
        try await paired.log.next("a read receipt") { event in
            if case .stanza(let node) = event, let receipt = Receipt(node) { return receipt.messageIDs == [id] && receipt.kind == .read }
            return false
        }
    }

    /// Sends and receives on one Signal session at the same time: each encrypt and decrypt must
    /// see the session the previous one left, or a ratchet step is lost and one end can no longer
    /// decrypt. Lena writes a burst while the client writes a burst to her; both ends decrypt all.
    @Test func concurrentSendsAndReceivesOnOneSessionStayDecryptableOnBothEnds() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        let paired = try await Self.start(double)
        let client = paired.client
        let hello = await client.newMessageID()
        _ = try await client.sendMessage(id: hello, to: .user(Self.lena), content: try TextMessage.content("hello"))
        _ = try await Self.received(double, Self.lena, device: 0, id: hello)
        let answer = try await ClientReceiveTests.send(double, ["from": Self.lena, "to": ClientDoubleTests.phone, "text": "hi"])
        _ = try await paired.log.next("Lena's answer") { ClientReceiveTests.message($0)?.id == answer }

        let count = 12
        async let burst = double.ok("POST", "/contacts/send", ["from": Self.lena, "to": ClientDoubleTests.phone, "text": "in", "repeat": count])
        var ids: [String] = []
        for n in 1...count {
            let id = await client.newMessageID()
            ids.append(id)
            _ = try await client.sendMessage(id: id, to: .user(Self.lena), content: try TextMessage.content("out #\(n)"))
        }
        let incoming = try #require(try await burst["ids"] as? [String])
        #expect(incoming.count == count)

        for (n, id) in ids.enumerated() {
            let entry = try await Self.received(double, Self.lena, device: 0, id: id)
            #expect(entry["error"] == nil && entry["text"] as? String == "out #\(n + 1)", "Lena could not decrypt: \(entry)")
        }
        for (n, id) in incoming.enumerated() {
            let event = try await paired.log.next("Lena's message \(n + 1)", within: .seconds(20)) { event in
                ClientReceiveTests.message(event)?.id == id || ClientReceiveTests.undecryptable(event)?.id == id
            }
            let message = try #require(ClientReceiveTests.message(event), "undecryptable: \(event)")
            #expect(message.content.text == "in #\(n + 1)")
        }
    }
}
