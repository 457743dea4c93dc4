import Foundation
import QRCode
import TestSupport
import Testing

@Suite("Session endpoints")
struct SessionAPITests {
    @Test func newSandboxSessionIsDisconnectedUntilItsQRCodeIsScanned() async throws {
        let gateway = try await TestGateway.start()
        let status = try await gateway.get("/api/session/status")
        #expect(status.status == 200)
        let data = try status.data
        #expect(data["session_id"] as? String == gateway.sessionID)
        #expect(data["status"] as? String == "disconnected")
        #expect(data["phone_number"] is NSNull)
        #expect(data["connected_at"] is NSNull)
        #expect(try status.json["success"] as? Bool == true)

        let askedAt = Date()
        let qr = try await gateway.get("/api/qr")
        let answeredAt = Date()
        #expect(qr.status == 200)
        #expect(try qr.json["message"] as? String == "QR code generated successfully")
        let qrData = try qr.data
        #expect(qrData["status"] as? String == "pending")
        #expect(qrData["session_id"] as? String == gateway.sessionID)
        #expect((qrData["qr_code"] as? String)?.hasPrefix("data:image/png;base64,iVBOR") == true)
        let expires = try #require(qrData["expires_at"] as? String)
        let expiresAt = try #require(ISO8601DateFormatter().date(from: expires))
        // 60 s after the moment the code was made, which lies between the request and its answer
        // (whole seconds in the API, hence the one-second margins).
        #expect(expiresAt.timeIntervalSince(askedAt) >= 59 && expiresAt.timeIntervalSince(answeredAt) <= 61)
        #expect(try await gateway.get("/api/session/status").data["status"] as? String == "pending")

        let scan = try await gateway.post("/api/sandbox/scan")
        #expect(scan.status == 200)
        let active = try await gateway.get("/api/session/status").data
        #expect(active["status"] as? String == "active")
        #expect(active["phone_number"] as? String == "+60100000000")
        #expect(active["connected_at"] is String)
        #expect(active["last_activity"] is String)
        try await gateway.discard()
    }

    @Test func qrCodeOfAnActiveSessionIsRefused() async throws {
        let gateway = try await TestGateway.start()
        try await gateway.connect()
        let qr = try await gateway.get("/api/qr")
        #expect(qr.status == 400)
        #expect(qr.errorCode == "SESSION_ALREADY_ACTIVE")
        #expect(try (qr.json["error"] as? [String: Any])?["message"] as? String == "WhatsApp session is already active")
        try await gateway.discard()
    }

    @Test func sameQRCodeUntilItExpires() async throws {
        let gateway = try await TestGateway.start()
        let first = try await gateway.get("/api/qr").data
        let second = try await gateway.get("/api/qr").data
        #expect(first["qr_code"] as? String == second["qr_code"] as? String)
        #expect(first["expires_at"] as? String == second["expires_at"] as? String)
        try await gateway.discard()
    }

    @Test func qrCodeDecodesToThePairingPayload() async throws {
        let gateway = try await TestGateway.start()
        let dataURI = try #require(try await gateway.get("/api/qr").data["qr_code"] as? String)
        let png = try #require(Data(base64Encoded: String(dataURI.dropFirst("data:image/png;base64,".count))))
        let decoded = try await PythonPeer.check("qr_decode.py", input: png)
        let symbols = try #require(try JSONSerialization.jsonObject(with: decoded) as? [[String: Any]])
        #expect(symbols.count == 1)
        let text = try #require(symbols.first?["text"] as? String)
        #expect(text.hasPrefix("BUZZBRIDGE-SANDBOX:\(gateway.sessionID):"))
        try await gateway.discard()
    }

    @Test func disconnectEndsTheSessionAndClearsThePairing() async throws {
        let gateway = try await TestGateway.start()
        try await gateway.connect()
        let reply = try await gateway.post("/api/session/disconnect")
        #expect(reply.status == 200)
        #expect(try reply.json["message"] as? String == "Session disconnected successfully")
        let data = try reply.data
        #expect(data["status"] as? String == "disconnected")
        #expect(data["session_id"] as? String == gateway.sessionID)
        #expect(data["disconnected_at"] is String)
        let status = try await gateway.get("/api/session/status").data
        #expect(status["status"] as? String == "disconnected")
        #expect(status["phone_number"] is NSNull)
        let send = try await gateway.post("/api/messages/send", #"{"phone":"+60123456789","message":"hi"}"#)
        #expect(send.errorCode == "SESSION_INACTIVE")
        // A new QR code can be requested again.
        #expect(try await gateway.get("/api/qr").status == 200)
        try await gateway.discard()
    }

    @Test func phoneDroppingTheSessionDisconnectsIt() async throws {
        let gateway = try await TestGateway.start()
        try await gateway.connect()
        let drop = try await gateway.post("/api/sandbox/drop")
        #expect(drop.status == 200)
        #expect(try drop.data["status"] as? String == "disconnected")
        #expect(try await gateway.get("/api/session/status").data["status"] as? String == "disconnected")
        #expect(try await gateway.post("/api/sandbox/drop").errorCode == "SESSION_INACTIVE")
        try await gateway.discard()
    }

    @Test func scanWithoutAQRCodeIsAValidationError() async throws {
        let gateway = try await TestGateway.start()
        let scan = try await gateway.post("/api/sandbox/scan")
        #expect(scan.status == 400)
        #expect(scan.errorCode == "VALIDATION_ERROR")
        try await gateway.discard()
    }
}
