import Foundation
import Testing

/// `/healthz` and `/readyz` over real HTTP, without credentials.
@Suite("Health and readiness probes")
struct HealthTests {
    @Test func livenessAndReadinessAnswerWithoutCredentials() async throws {
        let gateway = try await TestGateway.start()
        let live = try await gateway.get("/healthz", auth: .none)
        #expect(live.status == 200)
        #expect(try live.json["status"] as? String == "ok")

        let ready = try await gateway.get("/readyz", auth: .none)
        #expect(ready.status == 200)
        #expect(try ready.json["status"] as? String == "ready")
        #expect(try ready.json["checks"] as? [String: String] == ["store": "ok", "migrations": "ok", "sessions": "ok"])
        try await gateway.discard()
    }

    @Test func readinessFailsWhenTheStoreStopsAnsweringWhileLivenessHolds() async throws {
        let gateway = try await TestGateway.start()
        try await gateway.connect()
        try await gateway.store.close()

        let ready = try await gateway.get("/readyz", auth: .none)
        #expect(ready.status == 503)
        #expect(try ready.json["status"] as? String == "not_ready")
        let checks = try #require(try ready.json["checks"] as? [String: String])
        #expect(checks["store"] == "not answering")
        #expect(checks["sessions"] == "ok")
        #expect(try await gateway.get("/healthz", auth: .none).status == 200, "the process still lives")

        // The store is closed already: stop the server and remove the folder without closing it again.
        try? await gateway.stop()
        try? FileManager.default.removeItem(atPath: gateway.dataDirectory)
    }
}
