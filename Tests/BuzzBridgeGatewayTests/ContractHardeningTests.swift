import BuzzBridgeGateway
import Foundation
import Testing

/// Inputs the OpenAPI document describes exactly: numbers that are numbers, no fields beyond the
/// schema, no null where none is allowed, 405 for a method a path lacks, 413 past the body limit,
/// and the scheme named in every 401 (issue #15).
@Suite("Contract held exactly: numbers, extra fields, null, 405, 413, WWW-Authenticate")
struct ContractHardeningTests {
    @Test func theNumbersZeroAndOneAreIntegersNotBooleans() async throws {
        let gateway = try await ConfiguredGateway.start()
        let path = "/admin/api/sessions/\(gateway.sessionID)/keys"
        let one = try await gateway.request(.POST, path, bearer: gateway.adminToken, body: #"{"rate_limit":1,"expires_in_days":1}"#)
        #expect(one.status == 201, "\(one.text)")
        let key = try one.data["key"] as? [String: Any]
        #expect(key?["rate_limit"] as? Int == 1)
        // Zero is out of range (not "not an integer"), and true stays a boolean.
        let zero = try await gateway.request(.POST, path, bearer: gateway.adminToken, body: #"{"rate_limit":0}"#)
        #expect(zero.status == 400)
        #expect(zero.errorDetails["rate_limit"] == "must be between 1 and 100000")
        let boolean = try await gateway.request(.POST, path, bearer: gateway.adminToken, body: #"{"expires_in_days":true}"#)
        #expect(boolean.errorDetails["expires_in_days"] == "must be an integer")
        let fraction = try await gateway.request(.POST, path, bearer: gateway.adminToken, body: #"{"rate_limit":1.5}"#)
        #expect(fraction.errorDetails["rate_limit"] == "must be an integer")
        try await gateway.discard()
    }

    @Test func fieldsOutsideTheSchemaAndNullWhereNoneIsAllowedAreRefused() async throws {
        let gateway = try await ConfiguredGateway.start()
        let extra = try await gateway.request(.POST, "/admin/api/sessions", bearer: gateway.adminToken, body: #"{"name":"x","colour":"red"}"#)
        #expect(extra.status == 400)
        #expect(extra.errorCode == "VALIDATION_ERROR")
        #expect(extra.errorDetails["colour"] != nil)
        let emptyKey = try await gateway.request(.POST, "/admin/api/sessions", bearer: gateway.adminToken, body: #"{"":1}"#)
        #expect(emptyKey.status == 400)
        #expect(emptyKey.errorDetails["body"] != nil)
        let nullKind = try await gateway.request(.POST, "/admin/api/sessions", bearer: gateway.adminToken, body: #"{"kind":null}"#)
        #expect(nullKind.status == 400)
        #expect(nullKind.errorDetails["kind"] == "must not be null")
        // Null stays allowed where the schema allows it.
        let nullName = try await gateway.request(.POST, "/admin/api/sessions", bearer: gateway.adminToken, body: #"{"name":null,"key_label":null}"#)
        #expect(nullName.status == 201, "\(nullName.text)")
        let send = try await gateway.request(
            .POST, "/api/messages/send", bearer: gateway.apiKey, body: #"{"phone":"+60100000001","message":"hi","x":1}"#)
        #expect(send.status == 400)
        #expect(send.errorDetails["x"] != nil)
        let twice = try await gateway.request(
            .POST, "/admin/api/sessions/\(gateway.sessionID)/keys", bearer: gateway.adminToken, body: #"{"scopes":["messages:read","messages:read"]}"#
        )
        #expect(twice.status == 400)
        try await gateway.discard()
    }

    @Test func aMethodThePathLacksIs405WithAllowAndTheBudget() async throws {
        let gateway = try await ConfiguredGateway.start()
        let reply = try await gateway.request(.DELETE, "/api/session/status", bearer: gateway.apiKey)
        #expect(reply.status == 405)
        #expect(reply.errorCode == "METHOD_NOT_ALLOWED")
        #expect(reply.header("Allow") == "GET")
        #expect(reply.header("X-RateLimit-Limit") == "100")
        #expect(reply.header("X-RateLimit-Remaining") == "99")
        let post = try await gateway.request(.GET, "/api/messages/send", bearer: gateway.apiKey)
        #expect(post.status == 405)
        #expect(post.header("Allow") == "POST")
        let admin = try await gateway.request(.PUT, "/admin/api/sessions", bearer: gateway.adminToken)
        #expect(admin.status == 405)
        #expect(admin.header("Allow") == "GET, POST")
        // Without a key the answer is still 401: nothing is revealed before authentication.
        let anonymous = try await gateway.request(.DELETE, "/api/session/status", bearer: nil)
        #expect(anonymous.status == 401)
        // Unknown paths stay 404.
        #expect(try await gateway.request(.GET, "/api/nothing", bearer: gateway.apiKey).status == 404)
        try await gateway.discard()
    }

    @Test func aBodyOverTheLimitIs413InTheEnvelope() async throws {
        let gateway = try await ConfiguredGateway.start()
        let big = #"{"phone":"+60100000001","message":""# + String(repeating: "a", count: 70 * 1024) + #""}"#
        let reply = try await gateway.request(.POST, "/api/messages/send", bearer: gateway.apiKey, body: big)
        #expect(reply.status == 413)
        #expect(reply.errorCode == "PAYLOAD_TOO_LARGE")
        #expect(try reply.json["success"] as? Bool == false)
        try await gateway.discard()
    }

    @Test func headersOverTheLimitAre431InTheEnvelope() async throws {
        let gateway = try await ConfiguredGateway.start()
        let reply = try await gateway.request(
            .GET, "/api/session/status", bearer: gateway.apiKey, headers: [("X-Padding", String(repeating: "p", count: 90 * 1024))])
        #expect(reply.status == 431)
        #expect(reply.errorCode == "HEADERS_TOO_LARGE")
        #expect(reply.header("Content-Type")?.hasPrefix("application/json") == true)
        #expect(try await gateway.request(.GET, "/api/session/status", bearer: gateway.apiKey).status == 200)
        try await gateway.discard()
    }

    @Test func phoneNumbersAreTrimmedOfSpacesAndTabsOnlyAsThePatternSays() async throws {
        let gateway = try await ConfiguredGateway.start()
        for (phone, status) in [(" \t+60123456789 \t", 200), ("\n+60123456789", 400), ("+60123456789\r", 400), ("\u{A0}+60123456789", 400)] {
            let body = TestGateway.json(["phone": phone, "message": "hi"])
            let reply = try await gateway.request(.POST, "/api/sandbox/incoming", bearer: gateway.apiKey, body: body)
            // The sandbox session is not connected: a phone that passes gets SESSION_INACTIVE, not a phone error.
            if status == 200 {
                #expect(reply.errorDetails["phone"] == nil, "\(phone.debugDescription): \(reply.text)")
            } else {
                #expect(reply.errorDetails["phone"] != nil, "\(phone.debugDescription): \(reply.text)")
            }
        }
        try await gateway.discard()
    }

    @Test func every401NamesTheBearerScheme() async throws {
        let gateway = try await ConfiguredGateway.start()
        for (path, bearer) in [("/api/session/status", nil), ("/api/session/status", "wrong"), ("/admin/api/sessions", "bzb_admin_wrong")] {
            let reply = try await gateway.request(.GET, path, bearer: bearer)
            #expect(reply.status == 401)
            #expect(reply.header("WWW-Authenticate")?.hasPrefix("Bearer") == true, "\(path)")
        }
        try await gateway.discard()
    }
}
