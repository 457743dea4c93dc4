import BuzzBridgeStorage
import Foundation
import Testing

/// What the message endpoints answer to bad input, checked on the router in process.
@Suite("Message endpoints refuse bad input in the spec's envelope")
struct MessageValidationTests {
    @Test func sendValidatesItsBody() async throws {
        try await RouterGateway.with { gateway in
            try await gateway.connect()
            let cases: [(body: String?, code: String, field: String)] = [
                (nil, "VALIDATION_ERROR", "body"),
                ("not json", "VALIDATION_ERROR", "body"),
                ("[1,2]", "VALIDATION_ERROR", "body"),
                (#"{"message":"hi"}"#, "VALIDATION_ERROR", "phone"),
                (#"{"phone":60123456789,"message":"hi"}"#, "VALIDATION_ERROR", "phone"),
                (#"{"phone":"0123","message":"hi"}"#, "VALIDATION_ERROR", "phone"),
                (#"{"phone":"+60 12-345","message":"hi"}"#, "VALIDATION_ERROR", "phone"),
                (#"{"phone":"+60123456789"}"#, "VALIDATION_ERROR", "message"),
                (#"{"phone":"+60123456789","message":true}"#, "VALIDATION_ERROR", "message"),
                (#"{"phone":"+60123456789","message":"   "}"#, "VALIDATION_ERROR", "message"),
                (#"{"phone":"+60123456789","message":"hi","reply_to":7}"#, "VALIDATION_ERROR", "reply_to"),
                (#"{"phone":"+60123456789","message":"hi","reply_to":"msg_unknown"}"#, "VALIDATION_ERROR", "reply_to"),
            ]
            for testCase in cases {
                let reply = try await gateway.request(.post, "/api/messages/send", body: testCase.body)
                #expect(reply.status == 400, "\(testCase.body ?? "<empty>")")
                #expect(reply.errorCode == testCase.code, "\(testCase.body ?? "<empty>")")
                #expect(reply.errorDetails[testCase.field] != nil, "\(testCase.body ?? "<empty>") → \(reply.text)")
                #expect(try reply.json["success"] as? Bool == false)
            }
            let session = try #require(try await gateway.store.sessions().first)
            let stored = try await gateway.store.messages(MessageQuery(sessionID: session.id, limit: 10, offset: 0))
            #expect(stored.total == 0, "no message is stored for a refused send")
        }
    }

    @Test func messageLengthLimitIs4096Characters() async throws {
        try await RouterGateway.with { gateway in
            try await gateway.connect()
            let fits = String(repeating: "é", count: 4096)
            #expect(try await gateway.request(.post, "/api/messages/send", body: #"{"phone":"+60123456789","message":"\#(fits)"}"#).status == 200)
            let tooLong = String(repeating: "a", count: 4097)
            let reply = try await gateway.request(.post, "/api/messages/send", body: #"{"phone":"+60123456789","message":"\#(tooLong)"}"#)
            #expect(reply.status == 400)
            #expect(reply.errorCode == "MESSAGE_TOO_LONG")
        }
    }

    @Test func sendNeedsAnActiveSession() async throws {
        try await RouterGateway.with { gateway in
            let reply = try await gateway.request(.post, "/api/messages/send", body: #"{"phone":"+60123456789","message":"hi"}"#)
            #expect(reply.status == 400)
            #expect(reply.errorCode == "SESSION_INACTIVE")
        }
    }

    @Test func listRejectsMalformedParameters() async throws {
        try await RouterGateway.with { gateway in
            let cases: [(query: String, field: String)] = [
                ("limit=0", "limit"), ("limit=101", "limit"), ("limit=ten", "limit"), ("offset=-1", "offset"),
                ("status=archived", "status"), ("phone=hello", "phone"), ("from_date=yesterday", "from_date"),
                ("to_date=2025-13-01", "to_date"), ("from_date=2025-02-30", "from_date"),
                ("from_date=2025-10-06T00:00:00Z&to_date=2025-10-05T00:00:00Z", "to_date"),
            ]
            for testCase in cases {
                let reply = try await gateway.request(.get, "/api/messages?\(testCase.query)")
                #expect(reply.status == 400, "\(testCase.query)")
                #expect(reply.errorCode == "VALIDATION_ERROR", "\(testCase.query)")
                #expect(reply.errorDetails[testCase.field] != nil, "\(testCase.query) → \(reply.text)")
            }
        }
    }
}
