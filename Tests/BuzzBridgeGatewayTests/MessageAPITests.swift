import Foundation
import Testing

@Suite("Message endpoints and sandbox numbers")
struct MessageAPITests {
    private func messages(_ gateway: TestGateway, _ query: String = "") async throws -> [[String: Any]] {
        try await gateway.get("/api/messages" + query).data["messages"] as? [[String: Any]] ?? []
    }

    private func status(of id: String, in gateway: TestGateway) async throws -> String? {
        try await messages(gateway).first { $0["id"] as? String == id }?["status"] as? String
    }

    @Test func sendToAnOrdinaryNumberIsSentThenDelivered() async throws {
        let gateway = try await TestGateway.start()
        try await gateway.connect()
        let reply = try await gateway.post("/api/messages/send", #"{"phone":"+60123456789","message":"Thank you for your inquiry!"}"#)
        #expect(reply.status == 200)
        #expect(try reply.json["message"] as? String == "Message sent successfully")
        let data = try reply.data
        let id = try #require(data["message_id"] as? String)
        #expect(id.hasPrefix("msg_"))
        #expect(data["phone"] as? String == "+60123456789")
        #expect(data["message"] as? String == "Thank you for your inquiry!")
        #expect(data["status"] as? String == "sent")
        #expect(data["timestamp"] is String)
        #expect(try await gateway.eventually { try await status(of: id, in: gateway) == "delivered" })

        let stored = try #require(try await messages(gateway).first)
        #expect(stored["direction"] as? String == "outgoing")
        #expect(stored["from"] as? String == "+60100000000")
        #expect(stored["to"] as? String == "+60123456789")
        #expect(stored["from_name"] as? String == "BuzzBridge Sandbox")
        #expect(stored["message_type"] as? String == "text")
        #expect(stored["has_media"] as? Bool == false)
        #expect(stored["media_url"] is NSNull)
        try await gateway.discard()
    }

    @Test func echoNumberAnswersTestReply() async throws {
        let gateway = try await TestGateway.start()
        try await gateway.connect()
        let sent = try await gateway.post("/api/messages/send", #"{"phone":"+60100000001","message":"ping"}"#)
        let id = try #require(try sent.data["message_id"] as? String)
        #expect(
            try await gateway.eventually {
                try await messages(gateway, "?status=unread").contains { $0["message"] as? String == "Test reply" }
            })
        let reply = try #require(try await messages(gateway, "?status=unread").first)
        #expect(reply["from"] as? String == "+60100000001")
        #expect(reply["to"] as? String == "+60100000000")
        #expect(reply["direction"] as? String == "incoming")
        #expect(reply["status"] as? String == "unread")
        #expect(try await gateway.eventually { try await status(of: id, in: gateway) == "read" })
        try await gateway.discard()
    }

    /// The receipts arrive as webhooks, in order, whatever the machine's load: polling the list
    /// could miss a state that lasts 0.6 s on a busy machine.
    @Test func slowNumberIsDeliveredThenReadAfterTheDelay() async throws {
        let receiver = try await WebhookReceiver.start()
        let gateway = try await TestGateway.start()
        try await gateway.addWebhook(url: receiver.url, events: ["message.status"])
        try await gateway.connect()
        let sent = try await gateway.post("/api/messages/send", #"{"phone":"+60100000002","message":"slow"}"#)
        let id = try #require(try sent.data["message_id"] as? String)
        // `read` comes twice the sandbox's delay after the send: give a loaded machine room.
        let requests = try await receiver.waitForRequests(3, timeout: .seconds(30))
        let changes = requests.compactMap { $0.json["data"] as? [String: Any] }.filter { $0["message_id"] as? String == id }
        #expect(changes.map { $0["status"] as? String } == ["sent", "delivered", "read"])
        #expect(try await status(of: id, in: gateway) == "read")
        try await gateway.discard()
    }

    @Test func failingNumberEndsFailed() async throws {
        let gateway = try await TestGateway.start()
        try await gateway.connect()
        let sent = try await gateway.post("/api/messages/send", #"{"phone":"+60100000003","message":"doomed"}"#)
        #expect(sent.status == 200)
        let id = try #require(try sent.data["message_id"] as? String)
        #expect(try await gateway.eventually { try await status(of: id, in: gateway) == "failed" })
        try await gateway.discard()
    }

    @Test func numberWithoutWhatsAppIsRefused() async throws {
        let gateway = try await TestGateway.start()
        try await gateway.connect()
        let reply = try await gateway.post("/api/messages/send", #"{"phone":"+60100000004","message":"hello?"}"#)
        #expect(reply.status == 400)
        #expect(reply.errorCode == "INVALID_PHONE_NUMBER")
        #expect(reply.errorDetails["phone"] == "+60100000004")
        try await gateway.discard()
    }

    @Test func replyToAKnownMessageIsThreaded() async throws {
        let gateway = try await TestGateway.start()
        try await gateway.connect()
        let incoming = try await gateway.post(
            "/api/sandbox/incoming", #"{"phone":"+60123456789","name":"John Doe","message":"Hi, I want to book a hiking trip"}"#)
        #expect(incoming.status == 200)
        let incomingID = try #require(try incoming.data["id"] as? String)
        let reply = try await gateway.post("/api/messages/send", #"{"phone":"+60123456789","message":"Sure!","reply_to":"\#(incomingID)"}"#)
        #expect(reply.status == 200)
        let sentID = try #require(try reply.data["message_id"] as? String)
        let stored = try #require(try await messages(gateway).first { $0["id"] as? String == sentID })
        #expect(stored["reply_to"] as? String == incomingID)
        try await gateway.discard()
    }

    @Test func markReadRecordsTheTimeOnce() async throws {
        let gateway = try await TestGateway.start()
        try await gateway.connect()
        let incoming = try await gateway.post("/api/sandbox/incoming", #"{"phone":"+60123456789","message":"hello"}"#)
        let id = try #require(try incoming.data["id"] as? String)
        let read = try await gateway.post("/api/messages/\(id)/read")
        #expect(read.status == 200)
        #expect(try read.json["message"] as? String == "Message marked as read")
        let data = try read.data
        #expect(data["message_id"] as? String == id)
        #expect(data["status"] as? String == "read")
        let readAt = try #require(data["read_at"] as? String)
        let again = try await gateway.post("/api/messages/\(id)/read")
        #expect(try again.data["read_at"] as? String == readAt)
        #expect(try await messages(gateway, "?status=read").count == 1)
        #expect(try await messages(gateway, "?status=unread").isEmpty)

        let unknown = try await gateway.post("/api/messages/msg_doesnotexist/read")
        #expect(unknown.status == 404)
        #expect(unknown.errorCode == "NOT_FOUND")
        try await gateway.discard()
    }

    @Test func outgoingMessagesCannotBeMarkedRead() async throws {
        let gateway = try await TestGateway.start()
        try await gateway.connect()
        let sent = try await gateway.post("/api/messages/send", #"{"phone":"+60123456789","message":"hi"}"#)
        let id = try #require(try sent.data["message_id"] as? String)
        let reply = try await gateway.post("/api/messages/\(id)/read")
        #expect(reply.status == 400)
        #expect(reply.errorCode == "VALIDATION_ERROR")
        try await gateway.discard()
    }

    @Test func listFiltersPaginatesAndOrdersNewestFirst() async throws {
        let gateway = try await TestGateway.start()
        try await gateway.connect()
        for index in 0..<7 {
            let phone = index % 2 == 0 ? "+60111111111" : "+60122222222"
            #expect(try await gateway.post("/api/sandbox/incoming", #"{"phone":"\#(phone)","message":"m\#(index)"}"#).status == 200)
        }
        let page = try await gateway.get("/api/messages?limit=3&offset=0").data
        let first = try #require(page["messages"] as? [[String: Any]])
        #expect(first.map { $0["message"] as? String } == ["m6", "m5", "m4"])
        let pagination = try #require(page["pagination"] as? [String: Any])
        #expect(pagination["total"] as? Int == 7)
        #expect(pagination["limit"] as? Int == 3)
        #expect(pagination["offset"] as? Int == 0)
        #expect(pagination["has_more"] as? Bool == true)
        let last = try await gateway.get("/api/messages?limit=3&offset=6").data
        #expect((last["messages"] as? [[String: Any]])?.map { $0["message"] as? String } == ["m0"])
        #expect((last["pagination"] as? [String: Any])?["has_more"] as? Bool == false)
        let pastTheEnd = try await gateway.get("/api/messages?limit=3&offset=100").data
        #expect((pastTheEnd["messages"] as? [Any])?.isEmpty == true)
        #expect((pastTheEnd["pagination"] as? [String: Any])?["total"] as? Int == 7)
        let unreadOnePhone = try await gateway.get("/api/messages?status=unread&phone=%2B60111111111").data
        #expect((unreadOnePhone["pagination"] as? [String: Any])?["total"] as? Int == 4)
        let dated = try await gateway.get("/api/messages?limit=2&from_date=2020-01-01&phone=%2B60122222222").data
        #expect((dated["pagination"] as? [String: Any])?["total"] as? Int == 3)

        let byPhone = try await messages(gateway, "?phone=%2B60122222222")
        #expect(byPhone.map { $0["message"] as? String } == ["m5", "m3", "m1"])
        #expect(try await messages(gateway, "?phone=60122222222").count == 3)

        let future = try await messages(gateway, "?from_date=2999-01-01T00:00:00Z")
        #expect(future.isEmpty)
        let past = try await gateway.get("/api/messages?from_date=2020-01-01&to_date=2999-01-01T00:00:00%2B08:00").data
        #expect((past["pagination"] as? [String: Any])?["total"] as? Int == 7)
        try await gateway.discard()
    }

    @Test func conversationReadsOldestFirstWithCursorAndContactName() async throws {
        let gateway = try await TestGateway.start()
        try await gateway.connect()
        for index in 0..<5 {
            #expect(
                try await gateway.post("/api/sandbox/incoming", #"{"phone":"+60123456789","name":"John Doe","message":"c\#(index)"}"#).status == 200)
        }
        #expect(try await gateway.post("/api/messages/send", #"{"phone":"+60123456789","message":"answer"}"#).status == 200)
        #expect(try await gateway.post("/api/sandbox/incoming", #"{"phone":"+60199999999","message":"other"}"#).status == 200)

        let page = try await gateway.get("/api/conversations/+60123456789?limit=4").data
        #expect(page["phone"] as? String == "+60123456789")
        #expect(page["contact_name"] as? String == "John Doe")
        #expect(page["total_messages"] as? Int == 6)
        #expect(page["has_more"] as? Bool == true)
        let newest = try #require(page["messages"] as? [[String: Any]])
        #expect(newest.map { $0["message"] as? String } == ["c2", "c3", "c4", "answer"])
        let oldestShown = try #require(newest.first?["id"] as? String)

        let older = try await gateway.get("/api/conversations/%2B60123456789?before=\(oldestShown)").data
        #expect((older["messages"] as? [[String: Any]])?.map { $0["message"] as? String } == ["c0", "c1"])
        #expect(older["has_more"] as? Bool == false)

        let unknownName = try await gateway.get("/api/conversations/+60188888888").data
        #expect(unknownName["contact_name"] is NSNull)
        #expect(unknownName["total_messages"] as? Int == 0)

        #expect(try await gateway.get("/api/conversations/+60123456789?limit=201").errorCode == "VALIDATION_ERROR")
        #expect(try await gateway.get("/api/conversations/notaphone").errorDetails["phone"] != nil)
        #expect(try await gateway.get("/api/conversations/+60123456789?before=msg_nope").errorDetails["before"] != nil)
        try await gateway.discard()
    }
}
