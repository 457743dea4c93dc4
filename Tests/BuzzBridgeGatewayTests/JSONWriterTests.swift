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
        "émoji 🎒 中文 \u{2028}\u{2029}", "", "\"", "\\edges\n", "\u{00}",
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

        // Members listed out of key order would make the writer's bytes differ from the encoder's.
        let sent = MessageRoutes.SentMessage(
            messageID: "msg_1", phone: "+60123456789", message: body, status: "sent", timestamp: Timestamp(millisecondsSinceEpoch: 1)
        )
        var sentWriter = JSONWriter()
        sent.write(to: &sentWriter)
        #expect(sentWriter.bytes == Array(try JSONResponse.encoder.encode(sent)))
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

    /// Foundation's formatter is the independent reference for the hand-rolled civil-date arithmetic
    /// (after 1582 only: before it Foundation switches to the Julian calendar, ISO 8601 does not).
    @Test func timestampsMatchFoundationsISO8601Formatter() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        var generator = SystemRandomNumberGenerator()
        // Leap days, century years, the epoch, the far past and future, and random instants.
        var instants: [Int64] = [0, 999, -1, -1000, 951_782_400_000, 4_107_542_400_000, 253_402_300_799_000, -11_670_912_001_000]
        for _ in 0..<2000 { instants.append(Int64.random(in: -2_208_988_800_000...4_102_444_800_000, using: &generator)) }
        for milliseconds in instants {
            let timestamp = Timestamp(millisecondsSinceEpoch: milliseconds)
            let date = Date(timeIntervalSince1970: (Double(milliseconds) / 1000).rounded(.down))
            #expect(timestamp.iso8601 == formatter.string(from: date), "\(milliseconds)")
            var writer = JSONWriter()
            writer.value(timestamp)
            #expect(writer.bytes == Array("\"\(formatter.string(from: date))\"".utf8))
        }
    }

    @Test func integersAreWrittenAsSwiftPrintsThem() {
        for number in [0, 1, 9, 10, 99, 100, 12345, -1, -10, -987_654_321, Int.max, Int.min] {
            var writer = JSONWriter()
            writer.value(number)
            #expect(String(decoding: writer.bytes, as: UTF8.self) == String(number))
        }
    }
}
