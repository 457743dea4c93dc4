import BuzzBridgeGateway
import Foundation
import Testing

/// `/metrics` over real HTTP: who may read it, and that it shows the counts a test produced.
@Suite("Prometheus metrics")
struct MetricsTests {
    @Test func metricsNeedTheAdminOrTheMetricsToken() async throws {
        let metricsToken = "scrape-only-token-0123456789"
        var security = SecurityConfiguration()
        security.metricsToken = metricsToken
        let gateway = try await TestGateway.start(security: security)
        #expect(try await gateway.get("/metrics", auth: .none).status == 401)
        #expect(try await gateway.get("/metrics", auth: .apiKey).status == 401, "an API key is not enough")
        #expect(try await gateway.get("/metrics", auth: .bearer("scrape-only-token-0123456780")).status == 401)
        let scraped = try await gateway.get("/metrics", auth: .bearer(metricsToken))
        #expect(scraped.status == 200)
        #expect(scraped.headers.first { $0.0.lowercased() == "content-type" }?.1.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(try await gateway.get("/metrics", auth: .admin).status == 200)
        // The metrics token opens nothing else.
        #expect(try await gateway.get("/admin/api/sessions", auth: .bearer(metricsToken)).status == 401)
        try await gateway.discard()
    }

    @Test func countsSendsIncomingMessagesRequestsAndWebhookDeliveries() async throws {
        let receiver = try await WebhookReceiver.start()
        let gateway = try await TestGateway.start()
        // A second gateway in the same process keeps its own counts.
        let other = try await TestGateway.start()
        try await gateway.connect()
        try await gateway.addWebhook(url: "http://127.0.0.1:\(receiver.port)/hook", events: ["message.received"])
        let sends = 5
        for index in 0..<sends {
            let sent = try await gateway.post("/api/messages/send", TestGateway.json(["phone": "+60123456789", "message": "metrics \(index)"]))
            #expect(sent.status == 200)
        }
        try await gateway.receive("hello metrics")
        _ = try await receiver.waitForRequests(1)
        #expect(try await gateway.get("/api/messages?limit=5").status == 200)
        #expect(try await gateway.post("/api/messages/msg_doesnotexist/read").status == 404)

        // The delivery's outcome is counted when its attempt ends, a moment after the receiver
        // answered, and it leaves the outbox when that outcome is written.
        var metrics = Samples(text: "")
        let counted = try await gateway.eventually {
            metrics = Samples(text: try await gateway.get("/metrics", auth: .admin).text)
            return metrics.value("buzzbridge_webhook_deliveries_total", ["outcome": "succeeded"]) == 1
                && metrics.value("buzzbridge_webhook_outbox_depth", [:]) == 0
        }
        #expect(counted, "one delivery counted as succeeded, none left in the outbox: \(metrics.text)")
        #expect(metrics.value("buzzbridge_messages_total", ["direction": "out", "engine": "sandbox"]) ?? 0 >= Double(sends))
        #expect(metrics.value("buzzbridge_messages_total", ["direction": "in", "engine": "sandbox"]) == 1)
        #expect(metrics.value("buzzbridge_webhook_attempts_total", ["result": "2xx"]) == 1)
        #expect(metrics.value("buzzbridge_webhook_attempt_duration_seconds_count", [:]) == 1)
        // Requests are labelled by route template, never by the raw path.
        let sendRequests = ["route": "/api/messages/send", "method": "POST", "status": "200"]
        #expect(metrics.value("buzzbridge_http_requests_total", sendRequests) == Double(sends))
        #expect(metrics.value("buzzbridge_http_request_duration_seconds_count", sendRequests) == Double(sends))
        #expect(
            metrics.value("buzzbridge_http_requests_total", ["route": "/api/messages/{message_id}/read", "method": "POST", "status": "404"]) == 1)
        #expect(!metrics.text.contains("msg_doesnotexist"))
        #expect(metrics.value("buzzbridge_sessions", ["engine": "sandbox", "state": "active"]) == 1)
        #expect(metrics.value("buzzbridge_store_operation_duration_seconds_count", ["operation": "insert_message"]) ?? 0 >= Double(sends))

        let untouched = Samples(text: try await other.get("/metrics", auth: .admin).text)
        #expect(untouched.value("buzzbridge_messages_total", ["direction": "out", "engine": "sandbox"]) == 0)
        #expect(untouched.value("buzzbridge_http_requests_total", sendRequests) == nil)

        try await other.discard()
        try await gateway.discard()
        await receiver.stop()
    }
}

extension MetricsTests {
    @Test func aRetriedDeliveryIsCountedOncePerOutcomeAndAttempt() async throws {
        // The first attempt is answered 500 (retried after the test's short delay), the second 200.
        let receiver = try await WebhookReceiver.start { index, _ in .status(index == 0 ? 500 : 200) }
        let gateway = try await TestGateway.start()
        try await gateway.connect()
        try await gateway.addWebhook(url: "http://127.0.0.1:\(receiver.port)/hook", events: ["message.received"])
        try await gateway.receive("retry me")
        _ = try await receiver.waitForRequests(2)
        var metrics = Samples(text: "")
        let counted = try await gateway.eventually {
            metrics = Samples(text: try await gateway.get("/metrics", auth: .admin).text)
            return metrics.value("buzzbridge_webhook_deliveries_total", ["outcome": "succeeded"]) == 1
        }
        #expect(counted, "\(metrics.text)")
        #expect(metrics.value("buzzbridge_webhook_deliveries_total", ["outcome": "retry"]) == 1)
        #expect(metrics.value("buzzbridge_webhook_deliveries_total", ["outcome": "failed"]) == 0)
        #expect(metrics.value("buzzbridge_webhook_attempts_total", ["result": "5xx"]) == 1)
        #expect(metrics.value("buzzbridge_webhook_attempts_total", ["result": "2xx"]) == 1)
        #expect(metrics.value("buzzbridge_webhook_attempt_duration_seconds_count", [:]) == 2)
        try await gateway.discard()
        await receiver.stop()
    }
}

/// Samples of Prometheus' text format: `name{label="value",…} number` per line.
struct Samples {
    let text: String

    func value(_ name: String, _ labels: [String: String]) -> Double? {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            let series = line[..<space]
            let (metric, rest) = series.firstIndex(of: "{").map { (series[..<$0], series[series.index(after: $0)...].dropLast()) } ?? (series, "")
            guard metric == name else { continue }
            var found: [String: String] = [:]
            for pair in rest.split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { found[String(parts[0])] = String(parts[1].dropFirst().dropLast()) }
            }
            if found == labels { return Double(line[line.index(after: space)...]) }
        }
        return nil
    }
}
