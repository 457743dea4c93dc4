import Foundation
import TestSupport
import Testing

/// `POST /api/session/pairing-code` end to end on the sandbox: the code, the pending status, the
/// sandbox's stand-in for the user typing it, the richer status, and every refusal in the spec's
/// error envelope.
@Suite("Pairing by phone number")
struct PairingCodeAPITests {
    private let alphabet = Set("123456789ABCDEFGHJKLMNPQRSTVWXYZ")

    @Test func aCodeIsIssuedThenTypedAndTheSessionLinksAsThatNumber() async throws {
        let gateway = try await TestGateway.start()
        let reply = try await gateway.post("/api/session/pairing-code", #"{"phone":"+60123456789"}"#)
        #expect(reply.status == 200, "\(reply.text)")
        let data = try reply.data
        let code = try #require(data["pairing_code"] as? String)
        #expect(code.count == 8 && code.allSatisfy(alphabet.contains), "\(code)")
        #expect(data["phone_number"] as? String == "+60123456789")
        #expect(data["status"] as? String == "pending")
        #expect(data["session_id"] as? String == gateway.sessionID)
        let expiresAt = try #require((data["expires_at"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) })
        #expect(expiresAt.timeIntervalSinceNow > 50 && expiresAt.timeIntervalSinceNow <= 61)
        // Asked again while valid: the same code.
        #expect(try await gateway.post("/api/session/pairing-code", #"{"phone":"+60123456789"}"#).data["pairing_code"] as? String == code)
        #expect(try await gateway.get("/api/session/status").data["status"] as? String == "pending")

        #expect(try await gateway.post("/api/sandbox/scan").status == 200)
        let status = try await gateway.get("/api/session/status").data
        #expect(status["status"] as? String == "active")
        #expect(status["phone_number"] as? String == "+60123456789")
        #expect(status["connection"] as? String == "connected")
        #expect(status["platform"] as? String == "sandbox")
        #expect(status["disconnect_reason"] == nil)

        let again = try await gateway.post("/api/session/pairing-code", #"{"phone":"+60123456789"}"#)
        #expect(again.status == 400)
        #expect(again.errorCode == "SESSION_ALREADY_ACTIVE")
        try await gateway.discard()
    }

    @Test func badRequestsAreRefusedInTheSpecsEnvelope() async throws {
        let gateway = try await TestGateway.start()
        let missing = try await gateway.post("/api/session/pairing-code", "{}")
        #expect(missing.status == 400)
        #expect(missing.errorCode == "VALIDATION_ERROR")
        #expect(missing.errorDetails["phone"] != nil)
        let malformed = try await gateway.post("/api/session/pairing-code", #"{"phone":"12"}"#)
        #expect(malformed.status == 400)
        #expect(malformed.errorCode == "VALIDATION_ERROR")
        #expect(malformed.errorDetails["phone"] != nil)
        let notJSON = try await gateway.post("/api/session/pairing-code", "phone=+60123456789")
        #expect(notJSON.status == 400)
        #expect(notJSON.errorCode == "VALIDATION_ERROR")
        #expect(try notJSON.json["success"] as? Bool == false)
        let unauthenticated = try await gateway.request(.POST, "/api/session/pairing-code", body: #"{"phone":"+60123456789"}"#, auth: .none)
        #expect(unauthenticated.status == 401)
        #expect(unauthenticated.errorCode == "UNAUTHORIZED")
        try await gateway.discard()
    }

    @Test func aLoggedOutSessionNamesTheReasonAndANewCodeReplacesTheQR() async throws {
        let gateway = try await TestGateway.start()
        _ = try await gateway.get("/api/qr")
        let code = try await gateway.post("/api/session/pairing-code", #"{"phone":"+60111111111"}"#)
        #expect(code.status == 200)
        // The code is what the sandbox's phone completes now, not the QR shown before it.
        #expect(try await gateway.post("/api/sandbox/scan").status == 200)
        #expect(try await gateway.get("/api/session/status").data["phone_number"] as? String == "+60111111111")
        #expect(try await gateway.post("/api/session/disconnect").status == 200)
        let status = try await gateway.get("/api/session/status").data
        #expect(status["status"] as? String == "disconnected")
        #expect(status["disconnect_reason"] as? String == "logged_out")
        #expect(status["connection"] == nil)
        #expect(status["phone_number"] is NSNull)
        try await gateway.discard()
    }

    @Test func theAdminSetsThePushNameAndTheLinkCarriesIt() async throws {
        let gateway = try await TestGateway.start()
        let path = "/admin/api/sessions/\(gateway.sessionID)"
        let set = try await gateway.request(.PATCH, path, body: #"{"push_name":"  OFYS Support  "}"#, auth: .admin)
        #expect(set.status == 200, "\(set.text)")
        #expect(try set.data["push_name"] as? String == "OFYS Support")
        let tooLong = try await gateway.request(.PATCH, path, body: #"{"push_name":"\#(String(repeating: "x", count: 26))"}"#, auth: .admin)
        #expect(tooLong.status == 400)
        #expect(tooLong.errorCode == "VALIDATION_ERROR")
        let empty = try await gateway.request(.PATCH, path, body: "{}", auth: .admin)
        #expect(empty.errorCode == "VALIDATION_ERROR")
        let byAPIKey = try await gateway.request(.PATCH, path, body: #"{"push_name":"x"}"#, auth: .apiKey)
        #expect(byAPIKey.status == 401)
        let unknown = try await gateway.request(.PATCH, "/admin/api/sessions/session_nope", body: #"{"push_name":"x"}"#, auth: .admin)
        #expect(unknown.status == 404)

        try await gateway.connect()
        #expect(try await gateway.get("/api/session/status").data["push_name"] as? String == "OFYS Support")
        try await gateway.discard()
    }
}
