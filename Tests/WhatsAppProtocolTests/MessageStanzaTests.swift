import Foundation
import Testing

@testable import WhatsAppProtocol

/// Parsing of `message` stanzas and the stanzas that answer them, without a network.
struct MessageStanzaTests {
    let own = JID.user("60123456789", device: 3)
    let ownLID = JID.lid("99000111", device: 3)

    func stanza(_ attributes: BinaryNode.Attributes, parts: [BinaryNode] = []) -> BinaryNode {
        BinaryNode(tag: "message", attributes: attributes, children: parts)
    }

    @Test func aLIDAddressedContactNamesItsPhoneInSenderPN() throws {
        let node = stanza(
            [
                "from": .jid(.lid("555", device: 0)), "id": "3EB0AA", "t": "1700000000", "notify": "Lena", "sender_pn": .jid(.user("60144455566")),
                "type": "text",
            ],
            parts: [BinaryNode(tag: "enc", attributes: ["type": "pkmsg", "v": "2"], content: .bytes(Data([1, 2, 3])))])
        let parsed = try MessageStanza(node, own: own, ownLID: ownLID)
        #expect(parsed.id == "3EB0AA")
        #expect(parsed.source.chat == .lid("555"))
        #expect(parsed.source.senderPhone == .user("60144455566"))
        #expect(parsed.source.senderLID == .lid("555"))
        #expect(!parsed.source.isFromMe && !parsed.source.isGroup)
        #expect(parsed.pushName == "Lena")
        #expect(parsed.timestamp == Date(timeIntervalSince1970: 1_700_000_000))
        #expect(parsed.parts == [EncryptedPart(kind: .preKey, version: 2, retryCount: 0, mediaType: nil, ciphertext: Data([1, 2, 3]))])
    }

    @Test func aGroupMessageNamesItsParticipantAndTheOwnPhoneItsRecipient() throws {
        let group = try MessageStanza(
            stanza([
                "from": .jid(JID(user: "123-456", server: "g.us")), "id": "X", "participant": .jid(.lid("777", device: 2)),
                "participant_pn": .jid(.user("60111222333")), "addressing_mode": "lid",
            ]),
            own: own, ownLID: ownLID)
        #expect(group.source.isGroup && group.source.chat.server == "g.us")
        #expect(group.source.senderPhone == .user("60111222333", device: 2))
        let mine = try MessageStanza(
            stanza(["from": .jid(.lid("99000111")), "id": "Y", "recipient": .jid(.lid("777")), "peer_recipient_pn": .jid(.user("60111222333"))]),
            own: own, ownLID: ownLID)
        #expect(mine.source.isFromMe)
        #expect(mine.source.chat == .lid("777"))
        #expect(mine.source.chatAlternate == .user("60111222333"))
        #expect(Receipts.delivery(for: mine).attributes.string("type") == "sender")
        #expect(Receipts.delivery(for: mine).attributes.string("recipient") == "777@lid")
        #expect(throws: MessageStanza.ParseError.missingAttribute("participant")) {
            try MessageStanza(stanza(["from": .jid(JID(user: "1-2", server: "g.us")), "id": "Z"]), own: own, ownLID: ownLID)
        }
    }

    @Test func retryReceiptsCountCarryKeysFromTheSecondAndStopAtTheFifth() throws {
        #expect(RetryReceipts.nextCount(previous: 0, inMessage: 0) == 1)
        #expect(RetryReceipts.nextCount(previous: 0, inMessage: 2) == 3, "a restart in between continues from the re-sent count")
        #expect(RetryReceipts.nextCount(previous: 3, inMessage: 2) == 4)
        #expect(!RetryReceipts.includesKeys(count: 1, senderKeyMissing: false))
        #expect(RetryReceipts.includesKeys(count: 1, senderKeyMissing: true))
        #expect(RetryReceipts.includesKeys(count: 2, senderKeyMissing: false))
        #expect(RetryReceipts.exhaustedAt == 5)
        let node = stanza(["from": .jid(.user("60111222333", device: 2)), "id": "3EB0", "t": "17"])
        let receipt = RetryReceipts.receipt(
            for: try MessageStanza(node, own: own, ownLID: ownLID), count: 2, registrationID: 0x0102_0304,
            keys: RetryReceipts.Keys(
                identity: Data(repeating: 1, count: 32), preKeyID: 0x0A0B0C, preKey: Data(repeating: 2, count: 32), signedPreKeyID: 1,
                signedPreKey: Data(repeating: 3, count: 32), signedPreKeySignature: Data(repeating: 4, count: 64), deviceIdentity: Data([9])))
        #expect(receipt.attributes.string("type") == "retry" && receipt.attributes.string("to") == "60111222333:2@s.whatsapp.net")
        #expect(receipt.child("retry")?.attributes.string("count") == "2" && receipt.child("retry")?.attributes.string("t") == "17")
        #expect(receipt.child("registration")?.contentBytes == Data([1, 2, 3, 4]))
        #expect(receipt.child("keys")?.child("key")?.child("id")?.contentBytes == Data([0x0A, 0x0B, 0x0C]))
        #expect(receipt.child("keys")?.child("device-identity")?.contentBytes == Data([9]))
    }

    @Test func readReceiptsGoToTheChatAsItArrived() throws {
        let lid = try #require(Receipts.read(ids: ["A", "B"], chat: .lid("555"), sender: nil, at: Date(timeIntervalSince1970: 5)))
        #expect(lid.attributes.string("to") == "555@lid" && lid.attributes.string("type") == "read" && lid.attributes.string("t") == "5")
        #expect(lid.attributes["participant"] == nil)
        #expect(lid.child("list")?.children.map { $0.attributes.string("id") } == ["B"])
        let group = try #require(Receipts.read(ids: ["C"], chat: JID(user: "1-2", server: "g.us"), sender: .lid("777", device: 2), at: Date()))
        #expect(group.attributes.string("participant") == "777@lid")
    }

    @Test func theBufferKeyDependsOnTheCiphertextAndWhereItCameFrom() {
        let a = DecryptionBuffer.key(ciphertext: Data([1, 2]), context: ["normal", "1@lid"])
        #expect(a.count == 32)
        #expect(a == DecryptionBuffer.key(ciphertext: Data([1, 2]), context: ["normal", "1@lid"]))
        #expect(a != DecryptionBuffer.key(ciphertext: Data([1, 2]), context: ["normal", "2@lid"]))
        #expect(a != DecryptionBuffer.key(ciphertext: Data([1, 2]), context: ["prekey", "1@lid"]))
    }

    @Test func contentLooksThroughWrappersAndNamesMediaAndQuotes() throws {
        var inner = WAMessage()
        inner.extendedTextMessage.text = "see above"
        inner.extendedTextMessage.contextInfo.stanzaID = "3EB0Q"
        inner.extendedTextMessage.contextInfo.participant = "60111222333@s.whatsapp.net"
        inner.extendedTextMessage.contextInfo.quotedMessage.conversation = "the original"
        var wrapped = WAMessage()
        wrapped.ephemeralMessage.message = inner
        let content = try #require(MessageContent(of: wrapped))
        #expect(content.text == "see above")
        #expect(content.quote == MessageContent.Quote(id: "3EB0Q", participant: .user("60111222333"), text: "the original"))
        var image = WAMessage()
        image.imageMessage.caption = "a photo"
        #expect(MessageContent(of: image) == MessageContent(text: "a photo", media: .image))
        var distribution = WAMessage()
        distribution.senderKeyDistributionMessage.groupID = "1-2@g.us"
        #expect(MessageContent(of: distribution) == nil)
    }

    @Test func groupInfoGivesTheSubjectAndTheParticipantsPhoneNumbers() throws {
        let group = JID(user: "120363", server: "g.us")
        let query = GroupInfo.query(group).node(id: "1")
        #expect(query.attributes.string("xmlns") == "w:g2" && query.attributes.string("to") == "120363@g.us")
        #expect(query.child("query")?.attributes.string("request") == "interactive")
        let answer = BinaryNode(
            tag: "iq", attributes: ["type": "result"],
            children: [
                BinaryNode(
                    tag: "group", attributes: ["id": "120363", "subject": "Support"],
                    children: [
                        BinaryNode(tag: "participant", attributes: ["jid": .jid(.lid("777")), "phone_number": .jid(.user("60111222333"))]),
                        BinaryNode(tag: "participant", attributes: ["jid": .jid(.lid("888"))]),
                    ])
            ])
        let info = try #require(GroupInfo(answer: answer, group: group))
        #expect(info.subject == "Support")
        #expect(info.lidMappings == [LIDMapping(lid: .lid("777"), phone: .user("60111222333"))])
        #expect(GroupInfo(answer: BinaryNode(tag: "iq"), group: group) == nil)
    }
}
