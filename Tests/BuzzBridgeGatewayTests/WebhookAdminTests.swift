import BuzzBridgeCore
import BuzzBridgeGateway
import Foundation
import Testing

@Suite("Webhook admin API")
struct WebhookAdminTests {
    @Test func endpointsAreValidatedSavedUpdatedAndRemoved() async throws {
        let gateway = try await TestGateway.start()
        let path = "/admin/api/sessions/\(gateway.sessionID)/webhooks"
        let url = "https://ofys.example/api/webhooks/whatsapp"

        let badScheme = try await gateway.post(path, TestGateway.json(["url": "ftp://ofys.example/hook", "secret": "s3cret"]), auth: .admin)
        #expect(badScheme.status == 400)
        #expect(badScheme.errorCode == "VALIDATION_ERROR")
        #expect(badScheme.errorDetails["url"] != nil)
        let noSecret = try await gateway.post(path, TestGateway.json(["url": url]), auth: .admin)
        #expect(noSecret.errorDetails["secret"] != nil)
        let badEvents = try await gateway.post(path, TestGateway.json(["url": url, "secret": "s3cret", "events": ["message.sent"]]), auth: .admin)
        #expect(badEvents.errorDetails["events"] != nil)
        let unknownSession = try await gateway.post(
            "/admin/api/sessions/session_nope/webhooks", TestGateway.json(["url": url, "secret": "s3cret"]), auth: .admin
        )
        #expect(unknownSession.status == 404)
        #expect(try await gateway.post(path, TestGateway.json(["url": url, "secret": "s3cret"]), auth: .apiKey).status == 401)

        let created = try await gateway.post(path, TestGateway.json(["url": url, "secret": "secret_key_123456"]), auth: .admin)
        #expect(created.status == 201)
        let id = try #require(try created.data["webhook_id"] as? String)
        #expect(try created.data["events"] is NSNull)
        #expect(try created.data["secret_hint"] as? String == "secr…")
        #expect(!created.text.contains("secret_key_123456"), "the secret is never shown again")

        let updated = try await gateway.post(
            path, TestGateway.json(["url": url, "secret": "another_secret_789", "events": ["message.status"]]), auth: .admin
        )
        #expect(updated.status == 200)
        #expect(try updated.data["webhook_id"] as? String == id, "same URL, same endpoint")
        #expect(try updated.data["events"] as? [String] == ["message.status"])
        try await gateway.addWebhook(url: url + "/second")

        let listed = try await gateway.get(path, auth: .admin)
        let endpoints = try #require(try listed.json["data"] as? [[String: Any]])
        #expect(endpoints.compactMap { $0["url"] as? String } == [url, url + "/second"])

        let removed = try await gateway.request(.DELETE, "/admin/api/webhooks/\(id)", auth: .admin)
        #expect(removed.status == 200)
        #expect(try removed.data["active"] as? Bool == false)
        #expect(try await gateway.request(.DELETE, "/admin/api/webhooks/\(id)", auth: .admin).status == 404)
        #expect((try await gateway.get(path, auth: .admin).json["data"] as? [[String: Any]])?.count == 1)
        try await gateway.discard()
    }

    @Test func privateAddressesAreRefusedInProduction() async throws {
        let receiver = try await WebhookReceiver.start()
        let gateway = try await TestGateway.start(webhooks: .init(retryDelays: [.milliseconds(100)], allowPrivateAddresses: false))
        let path = "/admin/api/sessions/\(gateway.sessionID)/webhooks"
        for url in [
            receiver.url, "http://localhost/hook", "http://10.1.2.3/hook", "http://172.20.0.1/hook", "http://192.168.1.1/hook",
            "http://169.254.169.254/latest/meta-data", "http://[::1]/hook", "http://[::ffff:127.0.0.1]/hook", "http://[fd00::1]/hook",
            "http://100.64.0.1/hook", "http://0.0.0.0/hook",
            // A zone on an IPv6 literal, a final dot, capitals: still the same private addresses.
            "http://[::1%25lo]:\(receiver.port)/", "http://localhost.:\(receiver.port)/", "http://LOCALHOST./hook", "http://api.localhost/hook",
            "http://[fe80::1%25eth0]/hook", "http://127.0.0.1./hook",
        ] {
            let reply = try await gateway.post(path, TestGateway.json(["url": url, "secret": "s3cret"]), auth: .admin)
            #expect(reply.status == 400, "\(url) was accepted")
            #expect(reply.errorDetails["url"]?.contains("non-public") == true, "\(url): \(reply.text)")
        }
        #expect(
            try await gateway.post(path, TestGateway.json(["url": "https://93.184.216.34/hook", "secret": "s3cret"]), auth: .admin).status == 201)

        // Saved around the API (as the CLI may): the server still refuses to send there.
        _ = try await gateway.store.saveWebhookEndpoint(
            session: SessionID(rawValue: gateway.sessionID), url: receiver.url, secret: "s3cret", events: ["message.received"], at: .now()
        )
        try await gateway.connect()
        try await gateway.receive("to a private address")
        // (The public endpoint above gets deliveries too; only the receiver's matter here.)
        let toReceiver = { try await gateway.deliveries(state: "failed").filter { $0["url"] as? String == receiver.url } }
        #expect(try await gateway.eventually { try await toReceiver().count == 1 })
        let delivery = try #require(try await toReceiver().first)
        #expect((delivery["last_error"] as? String)?.contains("URL refused") == true)
        #expect(delivery["attempts"] as? Int == 1, "a refused URL is not retried")
        #expect(receiver.requests.isEmpty)
        try await gateway.discard()
        await receiver.stop()
    }

    @Test func failedDeliveriesAreRedeliveredWithTheirIDs() async throws {
        let receiver = try await WebhookReceiver.start { _, _ in .status(410) }
        let gateway = try await TestGateway.start()
        try await gateway.addWebhook(url: receiver.url, events: ["message.received"])
        try await gateway.connect()
        try await gateway.receive("first")
        #expect(try await gateway.eventually { try await gateway.deliveries(state: "failed").count == 1 })
        let id = try #require(try await gateway.deliveries().first?["delivery_id"] as? String)

        receiver.respond { _, _ in .status(200) }
        let again = try await gateway.post("/admin/api/deliveries/\(id)/redeliver", auth: .admin)
        #expect(again.status == 202)
        let requests = try await receiver.waitForRequests(2)
        #expect(requests.map { $0.header("X-BuzzBridge-Delivery") } == [id, id])
        #expect(requests[0].body == requests[1].body)
        #expect(try await gateway.eventually { try await gateway.deliveries(state: "succeeded").count == 1 })
        let attempts = try #require(try await gateway.delivery(id)["attempt_log"] as? [[String: Any]])
        #expect(attempts.map { $0["status_code"] as? Int } == [410, 200])

        // Several failures, then all of them at once.
        receiver.respond { _, _ in .status(400) }
        try await gateway.receive("second")
        try await gateway.receive("third")
        #expect(try await gateway.eventually { try await gateway.deliveries(state: "failed").count == 2 })
        receiver.respond { _, _ in .status(200) }
        let all = try await gateway.post("/admin/api/sessions/\(gateway.sessionID)/deliveries/redeliver-failed", auth: .admin)
        #expect(all.status == 202)
        #expect(try all.data["redelivered"] as? Int == 2)
        #expect(try await gateway.eventually { try await gateway.deliveries(state: "succeeded").count == 3 })
        #expect(receiver.requests.count == 6)

        #expect(try await gateway.post("/admin/api/deliveries/dlv_nope/redeliver", auth: .admin).status == 404)
        #expect(try await gateway.get("/admin/api/deliveries/dlv_nope", auth: .admin).status == 404)
        let badState = try await gateway.get("/admin/api/sessions/\(gateway.sessionID)/deliveries?state=lost", auth: .admin)
        #expect(badState.errorDetails["state"] != nil)
        try await gateway.discard()
        await receiver.stop()
    }
}
