import Foundation
import SignalProtocol
import TestSupport
import Testing

@testable import WhatsAppProtocol

/// The receive path against the server double's phones (python-axolotl, an independent Signal
/// implementation): decryption of pkmsg, msg and skmsg, the sender's phone number for LID
/// contacts, the decrypt buffer across a reconnect, retry receipts, the own phone's messages.
@Suite(.serialized) struct ClientReceiveTests {
    static let tom = "60111222333"
    static let lena = "60144455566"

    static func message(_ event: ClientEvent) -> ReceivedMessage? {
        if case .message(let message) = event { message } else { nil }
    }

    static func undecryptable(_ event: ClientEvent) -> UndecryptableMessage? {
        if case .undecryptableMessage(let message) = event { message } else { nil }
    }

    /// The receipts the phones saw for the message `id` they sent.
    static func receipts(_ double: ServerDouble, id: String) async throws -> [String] {
        let sent = try await double.ok("GET", "/contacts")["sent"] as? [[String: Any]] ?? []
        let entry = sent.first { $0["id"] as? String == id }
        return (entry?["receipts"] as? [[String: Any]] ?? []).compactMap { $0["type"] as? String }
    }

    static func send(_ double: ServerDouble, _ body: [String: Any]) async throws -> String {
        try #require(try await double.ok("POST", "/contacts/send", body)["id"] as? String)
    }

    @Test func contactsMessagesDecryptWithPhoneNumbersAndAreAnsweredOnlyOnceConfirmed() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        let paired = try await ClientDoubleTests.pairByQR(double)
        try await ClientDoubleTests.settled(double, paired.jid)
        try await double.ok("POST", "/contacts/defaults", ["own": ClientDoubleTests.phone])

        // A phone-number contact's first message: a pkmsg.
        let first = try await Self.send(double, ["from": Self.tom, "to": ClientDoubleTests.phone, "text": "Hello from Tom"])
        let received = try #require(Self.message(try await paired.log.next("Tom's message") { Self.message($0)?.id == first }))
        #expect(received.content.text == "Hello from Tom")
        #expect(received.senderPhone == JID.user(Self.tom))
        #expect(received.senderLID?.isLID == true)
        #expect(received.pushName == "Tom Two-Devices")
        #expect(!received.source.isGroup && !received.source.isFromMe)
        #expect(received.delivery.answer.tag == "receipt" && received.delivery.answer.attributes.string("type") == nil)
        // Not answered before the owner confirms: WhatsApp still holds it.
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await Self.receipts(double, id: first).isEmpty)
        await paired.client.confirm(received.delivery)
        try await double.eventually("the delivery receipt") { try await Self.receipts(double, id: first).contains("delivery") }
        // The buffer keeps the key only.
        let key = try #require(received.delivery.bufferKeys.first)
        #expect(try await paired.store.bufferedDecryption(key: key) == .processed)

        // A second message of the same session, and a reply quoting the first.
        let second = try await Self.send(
            double,
            [
                "from": Self.tom, "to": ClientDoubleTests.phone, "text": "Re",
                "replyTo": ["id": first, "participant": "\(Self.tom)@s.whatsapp.net", "text": "Hello from Tom"],
            ])
        let reply = try #require(Self.message(try await paired.log.next("Tom's reply") { Self.message($0)?.id == second }))
        #expect(reply.content.text == "Re")
        #expect(reply.content.quote?.id == first)
        #expect(reply.content.quote?.text == "Hello from Tom")
        await paired.client.confirm(reply.delivery)

        // The LID-only contact: the phone number comes from sender_pn, and is stored in the map.
        let fromLena = try await Self.send(double, ["from": Self.lena, "to": ClientDoubleTests.phone, "text": "Hi, Lena here"])
        let lena = try #require(Self.message(try await paired.log.next("Lena's message") { Self.message($0)?.id == fromLena }))
        #expect(lena.source.sender.isLID)
        #expect(lena.senderPhone == JID.user(Self.lena))
        #expect(lena.pushName == "Lena Lid")
        let lid = try #require(lena.senderLID)
        #expect(try await paired.store.phone(forLID: lid) == JID.user(Self.lena))
        await paired.client.confirm(lena.delivery)
        try await double.eventually("Lena's delivery receipt") { try await Self.receipts(double, id: fromLena).contains("delivery") }
        await paired.client.stop()
    }

    @Test func aMessageDeliveredAgainAfterAReconnectComesFromTheDecryptBuffer() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        let paired = try await ClientDoubleTests.pairByQR(double)
        try await ClientDoubleTests.settled(double, paired.jid)
        try await double.ok("POST", "/contacts/defaults", ["own": ClientDoubleTests.phone])

        let id = try await Self.send(double, ["from": Self.lena, "to": ClientDoubleTests.phone, "text": "Only once, please"])
        let first = try #require(Self.message(try await paired.log.next("the message") { Self.message($0)?.id == id }))
        let key = try #require(first.delivery.bufferKeys.first)
        guard case .plaintext = try await paired.store.bufferedDecryption(key: key) else {
            Issue.record("the plaintext is buffered until confirmed")
            return
        }
        // Not confirmed (the owner "crashed" before storing it): WhatsApp delivers it again after
        // the next login, the same ciphertext, which the ratchet alone could not decrypt twice.
        await paired.client.stop()
        try await paired.client.start()
        let again = try #require(Self.message(try await paired.log.next("the message again") { Self.message($0)?.id == id }))
        #expect(again.content.text == "Only once, please")
        #expect(again.delivery.bufferKeys == first.delivery.bufferKeys)
        await paired.client.confirm(again.delivery)
        try await double.eventually("the delivery receipt") { try await Self.receipts(double, id: id).contains("delivery") }
        #expect(try await paired.store.bufferedDecryption(key: key) == .processed)
        await paired.client.stop()
    }

    @Test func aCorruptedMessageGetsARetryReceiptAndTheResentOneDecrypts() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        let paired = try await ClientDoubleTests.pairByQR(double)
        try await ClientDoubleTests.settled(double, paired.jid)
        try await double.ok("POST", "/contacts/defaults", ["own": ClientDoubleTests.phone])

        let id = try await Self.send(double, ["from": Self.tom, "to": ClientDoubleTests.phone, "text": "Garbled first", "corrupt": true])
        let failed = try #require(Self.undecryptable(try await paired.log.next("undecryptable") { Self.undecryptable($0)?.id == id }))
        #expect(failed.retryCount == 1)
        #expect(failed.senderPhone == JID.user(Self.tom))
        #expect(failed.delivery.answer.tag == "ack")
        await paired.client.confirm(failed.delivery)
        let resent = try #require(Self.message(try await paired.log.next("the re-sent message") { Self.message($0)?.id == id }))
        #expect(resent.content.text == "Garbled first")
        await paired.client.confirm(resent.delivery)
        try await double.eventually("the retry and then the delivery receipt") {
            let receipts = try await Self.receipts(double, id: id)
            return receipts.contains("retry") && receipts.contains("delivery")
        }
        await paired.client.stop()
    }

    @Test func groupMessagesAndTheOwnPhonesMessages() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        let paired = try await ClientDoubleTests.pairByQR(double)
        try await ClientDoubleTests.settled(double, paired.jid)
        try await double.ok("POST", "/contacts/defaults", ["own": ClientDoubleTests.phone])

        let group = try #require(
            try await double.ok("POST", "/groups", ["subject": "Support", "participants": [Self.tom, Self.lena, ClientDoubleTests.phone]])["jid"]
                as? String)
        let id = try await Self.send(double, ["from": Self.lena, "group": group, "text": "Hello group"])
        let message = try #require(Self.message(try await paired.log.next("the group message") { Self.message($0)?.id == id }))
        #expect(message.source.isGroup)
        #expect(message.source.chat.description == group)
        #expect(message.groupSubject == "Support", "from the w:g2 group-info query")
        #expect(message.content.text == "Hello group")
        #expect(message.senderPhone == JID.user(Self.lena))
        await paired.client.confirm(message.delivery)
        // The sender key stays: the next group message is a lone skmsg.
        let next = try await Self.send(double, ["from": Self.lena, "group": group, "text": "Second"])
        let second = try #require(Self.message(try await paired.log.next("the second group message") { Self.message($0)?.id == next }))
        #expect(second.content.text == "Second")
        await paired.client.confirm(second.delivery)

        // The account's own phone writes to Tom: a DeviceSentMessage, from this account.
        let own = try await Self.send(double, ["from": ClientDoubleTests.phone, "to": Self.tom, "text": "Sent from my phone"])
        let copy = try #require(Self.message(try await paired.log.next("the own phone's message") { Self.message($0)?.id == own }))
        #expect(copy.source.isFromMe)
        #expect(copy.chatPhone == JID.user(Self.tom))
        #expect(copy.content.text == "Sent from my phone")
        #expect(copy.delivery.answer.attributes.string("type") == "sender")
        await paired.client.confirm(copy.delivery)
        try await double.eventually("the sender receipt") { try await Self.receipts(double, id: own).contains("sender") }
        await paired.client.stop()
    }

    /// A contact known only by LID whose stanzas carry no `sender_pn`, and no LID↔phone pair
    /// stored: the client asks usync for the LID's number before reporting the message, stores
    /// the pair, and reports the phone number (never the LID in its place).
    @Test func aSenderKnownOnlyByLIDWithoutSenderPNIsLookedUpByUsync() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        let paired = try await ClientDoubleTests.pairByQR(double)
        try await ClientDoubleTests.settled(double, paired.jid)
        let hidden = "60177788899"
        let account = try await double.ok(
            "POST", "/contacts", ["phone": hidden, "pushName": "Hana Hidden", "addressing": "lid", "senderPn": false])
        let lid = try JID(parsing: try #require(account["lid"] as? String))
        #expect(try await paired.store.phone(forLID: lid) == nil)

        let id = try await Self.send(double, ["from": hidden, "to": ClientDoubleTests.phone, "text": "Who am I?"])
        let received = try #require(Self.message(try await paired.log.next("Hana's message") { Self.message($0)?.id == id }))
        #expect(received.source.sender.isLID, "the stanza named the sender by LID: \(received.source.sender)")
        #expect(received.source.senderPhone == nil, "no sender_pn in the stanza")
        #expect(received.senderPhone == JID.user(hidden))
        #expect(received.senderLID == lid)
        #expect(received.content.text == "Who am I?")
        #expect(try await paired.store.phone(forLID: lid) == JID.user(hidden), "the pair is stored")
        await paired.client.confirm(received.delivery)
        try await double.eventually("the delivery receipt") { try await Self.receipts(double, id: id).contains("delivery") }

        // The next message is resolved from the stored pair: no second usync for that LID.
        let queries = { () async throws -> Int in
            let transcript = try await double.ok("GET", "/transcript?jid=\(paired.jid.description)")
            let entries = (transcript["connections"] as? [[String: Any]] ?? []).flatMap { $0["entries"] as? [[String: Any]] ?? [] }
            return try entries.filter { entry in
                guard entry["dir"] as? String == "in", entry["tag"] as? String == "iq" else { return false }
                let text = String(decoding: try JSONSerialization.data(withJSONObject: entry), as: UTF8.self)
                return text.contains("usync") && text.contains(lid.description)
            }.count
        }
        let before = try await queries()
        #expect(before == 1, "one usync asked for the LID's number")
        let second = try await Self.send(double, ["from": hidden, "to": ClientDoubleTests.phone, "text": "Me again"])
        let again = try #require(Self.message(try await paired.log.next("Hana's second message") { Self.message($0)?.id == second }))
        #expect(again.senderPhone == JID.user(hidden))
        #expect(try await queries() == before)
    }
}
