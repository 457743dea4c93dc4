import BuzzBridgeEngines
import Testing

@Suite("Sandbox auto-scan")
struct SandboxAutoScanTests {
    @Test func aConfiguredSandboxScansItsOwnQRCode() async throws {
        var sandbox = SandboxConfiguration.fastForTests
        sandbox.autoScanAfter = .milliseconds(200)
        let gateway = try await TestGateway.start(sandbox: sandbox)
        // The QR answer itself says pending: a separate status call could come after the scan on a busy machine.
        let qr = try await gateway.get("/api/qr")
        #expect(qr.status == 200)
        #expect(try qr.data["status"] as? String == "pending")
        #expect(
            try await gateway.eventually(timeout: .seconds(5)) {
                try await gateway.get("/api/session/status").data["status"] as? String == "active"
            })
        try await gateway.discard()
    }

    @Test func anUnscannedQRCodeEndsThePairingWhenItExpires() async throws {
        var sandbox = SandboxConfiguration.fastForTests
        sandbox.pairingCodeLifetime = .milliseconds(300)
        let gateway = try await TestGateway.start(sandbox: sandbox)
        #expect(try await gateway.get("/api/qr").status == 200)
        #expect(
            try await gateway.eventually(timeout: .seconds(5)) {
                try await gateway.get("/api/session/status").data["status"] as? String == "disconnected"
            })
        #expect(try await gateway.post("/api/sandbox/scan").errorCode == "VALIDATION_ERROR")
        try await gateway.discard()
    }
}
