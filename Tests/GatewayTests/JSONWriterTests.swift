import BuzzBridgeCore
import Foundation
import Testing
@testable import BuzzBridgeGateway

@Suite("JSONWriter writes what JSONEncoder writes")
struct JSONWriterTests {
    private func message(body: String, fromName: String?, readAt: Timestamp?) -> Message {
        Message(
            id: .generate(), sessionID: SessionID(rawValue: "session_x"), externalID: "EXT", direction: .incoming,
            from: PhoneNumber("+60123456789")!, fromName: fromName, to: PhoneNumber("+60100000000")!, body: body,
            status: .unread, timestamp: Timestamp(millisecondsSinceEpoch: 1_759_674_330_000), readAt: readAt
        )
    }

    @Test(arguments: [
        "plain", "quote \" backslash \\ slash / url https://x.test/a?b=c",
        "lines\nand\r\ttabs\u{08}\u{0C} and controls \u{01}\u{1F}\u{7F}",
        "émoji 🎒 中文 \u{2028}\u{2029}", "",
    ])
    func messageListsAreByteIdentical(body: String) throws {
        let messages = [
            MessageRepresentation(message: message(body: body, fromName: "John \"JD\" Doe", readAt: nil)),
            MessageRepresentation(message: message(body: body, fromName: nil, readAt: Timestamp(millisecondsSinceEpoch: 0))),
        ]
        let list = MessageRoutes.MessageList(
            messages: messages, pagination: .init(total: 1_000_000, limit: 50, offset: 0, hasMore: true)
        )
        var writer = JSONWriter()
        list.write(to: &writer)
        let encoded = try JSONResponse.encoder.encode(list)
        #expect(String(decoding: writer.bytes, as: UTF8.self) == String(decoding: encoded, as: UTF8.self))

        let conversation = MessageRoutes.Conversation(
            phone: "+60123456789", contactName: nil, messages: messages, totalMessages: 2, hasMore: false
        )
        var conversationWriter = JSONWriter()
        conversation.write(to: &conversationWriter)
        #expect(conversationWriter.bytes == Array(try JSONResponse.encoder.encode(conversation)))
    }

    @Test func emptyContainersAndNesting() {
        var writer = JSONWriter()
        writer.object { object in
            object.key("a"); object.array([Int]()) { _, _ in }
            object.key("b"); object.object { _ in }
            object.key("c"); object.array([1, 2]) { json, number in json.value(number) }
        }
        #expect(String(decoding: writer.bytes, as: UTF8.self) == #"{"a":[],"b":{},"c":[1,2]}"#)
    }
}
