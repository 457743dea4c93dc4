import BuzzBridgeCore
import BuzzBridgeGateway
import Crypto
import Foundation
import Testing

@Suite("Webhook delivery")
struct WebhookDeliveryTests {
    static func hmacHex(_ message: [UInt8], key: String) -> String {
        HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Array(key.utf8)))
            .map { String(format: "%02x", $0) }.joined()
    }

    @Test func everyEventArrivesSignedWithTheSpecBodyAndHeaders() async throws {
        let receiver = try await WebhookReceiver.start()
        let gateway = try await TestGateway.start()
        try await gateway.addWebhook(url: receiver.url, secret: "test_secret_key_123")
        try await gateway.connect()  // session.status: qr_generated, connected
        try await gateway.receive("Hi, I want to book a hiking trip")
        let sent = try await gateway.post("/api/messages/send", TestGateway.json(["phone": "+60123456789", "message": "Hello"]))
        #expect(sent.status == 200)

        let requests = try await receiver.waitForRequests(4)
        try #require(requests.count >= 4)
        var deliveryIDs = Set<String>()
        for request in requests {
            let signature = try #require(request.header("X-Webhook-Signature"))
            #expect(signature == "sha256=" + Self.hmacHex(request.body, key: "test_secret_key_123"))
            let timestamp = try #require(request.header("X-BuzzBridge-Timestamp"))
            let deliveryID = try #require(request.header("X-BuzzBridge-Delivery"))
            #expect(
                request.header("X-BuzzBridge-Signature")
                    == "sha256=" + Self.hmacHex(Array("\(timestamp).\(deliveryID).".utf8) + request.body, key: "test_secret_key_123"))
            #expect(abs((Double(timestamp) ?? 0) - Date().timeIntervalSince1970) < 60)
            #expect(request.header("Content-Type") == "application/json")
            #expect(request.header("X-BuzzBridge-Event") == request.json["event"] as? String)
            #expect(request.path == "/webhooks/whatsapp")
            #expect(deliveryIDs.insert(deliveryID).inserted, "delivery \(deliveryID) arrived twice")
            #expect(Set(request.json.keys) == ["event", "timestamp", "data"])
        }
        // Session events are one conversation, the contact's messages another: each in the order it
        // happened, the two in parallel (docs/webhooks.md, Ordering).
        let sessionChanges = requests.filter { $0.header("X-BuzzBridge-Event") == "session.status" }
            .compactMap { ($0.json["data"] as? [String: Any])?["change"] as? String }
        #expect(Array(sessionChanges.prefix(2)) == ["qr_generated", "connected"], "session events in the order they happened")

        let received = try #require(requests.first { $0.header("X-BuzzBridge-Event") == "message.received" })
        let data = try #require(received.json["data"] as? [String: Any])
        #expect(Set(data.keys) == ["message_id", "from", "from_name", "to", "message", "message_type", "has_media", "media_url", "timestamp"])
        #expect(data["from"] as? String == "+60123456789")
        #expect(data["from_name"] as? String == "John Doe")
        #expect(data["message"] as? String == "Hi, I want to book a hiking trip")
        #expect(data["has_media"] as? Bool == false)
        #expect(data["media_url"] is NSNull)

        let connected = try #require(requests.lazy.compactMap { $0.json["data"] as? [String: Any] }.first { $0["change"] as? String == "connected" })
        #expect(connected["session_id"] as? String == gateway.sessionID)
        #expect(connected["status"] as? String == "active")

        // The log shows each delivery succeeded on its first attempt (status receipts may still
        // be arriving: wait until the log and the receiver agree).
        #expect(
            try await gateway.eventually {
                let log = try await gateway.deliveries()
                return log.allSatisfy { $0["state"] as? String == "succeeded" } && log.count == receiver.requests.count
            })
        let log = try await gateway.deliveries()
        let first = try #require(log.last)
        #expect(first["state"] as? String == "succeeded")
        #expect(first["attempts"] as? Int == 1)
        let firstID = try #require(first["delivery_id"] as? String)
        let detail = try await gateway.delivery(firstID)
        let attempts = try #require(detail["attempt_log"] as? [[String: Any]])
        #expect(attempts.count == 1)
        #expect(attempts.first?["status_code"] as? Int == 200)
        let firstRequest = try #require(requests.first { $0.header("X-BuzzBridge-Delivery") == firstID })
        #expect(detail["body"] as? String == String(decoding: firstRequest.body, as: UTF8.self))

        try await gateway.discard()
        await receiver.stop()
    }

    @Test func serverErrorsAreRetriedAfterOneAndFiveSeconds() async throws {
        let receiver = try await WebhookReceiver.start { index, _ in index < 2 ? .status(500) : .status(200) }
        // The spec's own schedule, not the shortened one.
        let gateway = try await TestGateway.start(
            webhooks: .init(retryDelays: [.seconds(1), .seconds(5), .seconds(15)], allowPrivateAddresses: true))
        try await gateway.addWebhook(url: receiver.url, events: ["message.received"])
        try await gateway.connect()
        let stalls = StallWatch()
        try await gateway.receive("retry me")

        let requests = try await receiver.waitForRequests(3, timeout: .seconds(30))
        try #require(requests.count == 3)
        #expect(Set(requests.map { $0.header("X-BuzzBridge-Delivery") }).count == 1, "a retry is the same delivery")
        #expect(Set(requests.map(\.body)).count == 1, "a retry sends the same bytes")
        let id = try #require(requests[0].header("X-BuzzBridge-Delivery"))
        #expect(
            try await gateway.eventually {
                try await gateway.delivery(id)["delivery"].flatMap { ($0 as? [String: Any])?["state"] as? String } == "succeeded"
            })
        let attempts = try #require(try await gateway.delivery(id)["attempt_log"] as? [[String: Any]])
        #expect(attempts.map { $0["status_code"] as? Int } == [500, 500, 200])
        #expect(attempts.map { $0["attempt"] as? Int } == [1, 2, 3])

        // Each retry waits its own delay, not the next one's: never earlier, and later by no more
        // than this process was held up. The receiver sees a gap that also holds the two
        // attempts' round trips, which the sender measured.
        let latencies = attempts.map { Duration.milliseconds($0["latency_ms"] as? Int ?? 0) }
        let firstGap = requests[1].arrivedAt - requests[0].arrivedAt
        let secondGap = requests[2].arrivedAt - requests[1].arrivedAt
        let stall = stalls.longestStall
        let firstSlack = stall + latencies[0] + latencies[1]
        let secondSlack = stall + latencies[1] + latencies[2]
        #expect(
            firstGap >= .milliseconds(990) && firstGap < .milliseconds(4990) + firstSlack,
            "first retry after \(firstGap), stalls \(stall), round trips \(latencies)")
        #expect(
            secondGap >= .milliseconds(4990) && secondGap < .milliseconds(14990) + secondSlack,
            "second retry after \(secondGap), stalls \(stall), round trips \(latencies)")
        #expect(receiver.requests.count == 3, "no request after the success")
        try await gateway.discard()
        await receiver.stop()
    }

    @Test func clientErrorIsNotRetried() async throws {
        let receiver = try await WebhookReceiver.start { _, _ in .status(400) }
        let gateway = try await TestGateway.start()
        try await gateway.addWebhook(url: receiver.url, events: ["message.received"])
        try await gateway.connect()
        try await gateway.receive("refused")

        #expect(try await gateway.eventually { try await gateway.deliveries(state: "failed").count == 1 })
        // Retries are 200 ms apart in this configuration: a retry would have come by now.
        try await Task.sleep(for: .milliseconds(800))
        #expect(receiver.requests.count == 1)
        let delivery = try #require(try await gateway.deliveries().first)
        #expect(delivery["attempts"] as? Int == 1)
        #expect(delivery["last_status"] as? Int == 400)
        try await gateway.discard()
        await receiver.stop()
    }

    @Test func silentEndpointIsRetriedAfterTheTimeout() async throws {
        let receiver = try await WebhookReceiver.start { index, _ in index == 0 ? .silence : .status(200) }
        let gateway = try await TestGateway.start(
            webhooks: .init(
                retryDelays: [.milliseconds(100), .milliseconds(100), .milliseconds(100)], timeout: .seconds(2), allowPrivateAddresses: true
            ))
        try await gateway.addWebhook(url: receiver.url, events: ["message.received"])
        try await gateway.connect()
        try await gateway.receive("anyone there?")

        let requests = try await receiver.waitForRequests(2)
        try #require(requests.count == 2)
        #expect(requests[0].header("X-BuzzBridge-Delivery") == requests[1].header("X-BuzzBridge-Delivery"))
        let id = try #require(requests[0].header("X-BuzzBridge-Delivery"))
        #expect(try await gateway.eventually { try await gateway.deliveries(state: "succeeded").count == 1 })
        let attempts = try #require(try await gateway.delivery(id)["attempt_log"] as? [[String: Any]])
        // Under a full suite's load a 200 has once taken longer than the 2 s too: every attempt
        // before the last went unanswered (the first one by design), and the last succeeded.
        try #require(attempts.count >= 2)
        for attempt in attempts.dropLast() {
            #expect(attempt["status_code"] is NSNull)
            #expect((attempt["error"] as? String)?.contains("no answer") == true)
            #expect((attempt["latency_ms"] as? Int ?? 0) >= 2_000)
        }
        #expect(attempts.last?["status_code"] as? Int == 200)
        #expect(attempts.count == receiver.requests.count, "one request per attempt")
        // Not retried before the timeout, by the sender's clock (the log's whole seconds). The
        // receiver's arrival times are no measure of it: in the full suite its event loops also
        // run every other test's requests, and once the two arrivals were 0.45 s apart although
        // the sender had waited out a 0.7 s timeout.
        let started = attempts.compactMap { ($0["at"] as? String).flatMap(Timestamp.init(iso8601:)) }
        try #require(started.count == attempts.count)
        for (earlier, later) in zip(started, started.dropFirst()) {
            #expect(later.millisecondsSinceEpoch - earlier.millisecondsSinceEpoch >= 2_000, "not before the timeout")
        }
        try await gateway.discard()
        await receiver.stop()
    }

    @Test func refusedConnectionIsRetried() async throws {
        // Bound but not listening until the endpoint opens: connections are refused, and no other
        // test can take the port meanwhile (one did, when it was only picked as free).
        let (reservation, port) = try Self.reservedPort()
        let gateway = try await TestGateway.start(
            webhooks: .init(
                retryDelays: Array(repeating: .seconds(1), count: 10), timeout: .seconds(5), allowPrivateAddresses: true
            ))
        try await gateway.addWebhook(url: "http://127.0.0.1:\(port)/webhooks/whatsapp", events: ["message.received"])
        try await gateway.connect()
        try await gateway.receive("knock knock")

        // Wait for the refused first attempt, then open the endpoint: the reserved socket starts
        // listening, so the port is never free for another socket to take.
        #expect(try await gateway.eventually { (try await gateway.deliveries().first?["attempts"] as? Int ?? 0) >= 1 })
        let receiver = try await WebhookReceiver.start(boundSocket: reservation)
        let requests = try await receiver.waitForRequests(1)
        #expect(requests.count == 1)
        #expect(try await gateway.eventually { try await gateway.deliveries(state: "succeeded").count == 1 })
        let id = try #require(requests.first?.header("X-BuzzBridge-Delivery"))
        let attempts = try #require(try await gateway.delivery(id)["attempt_log"] as? [[String: Any]])
        // Refused until the endpoint opened (once, or more when the machine is slow to open it
        // before the next retry), then answered.
        #expect(attempts.count >= 2, "refused, then answered")
        for refused in attempts.dropLast() {
            #expect(refused["status_code"] is NSNull)
            #expect((refused["error"] as? String)?.lowercased().contains("refused") == true, "\(attempts)")
        }
        #expect(attempts.last?["status_code"] as? Int == 200)
        try await gateway.discard()
        await receiver.stop()
    }

    /// A loopback port bound by a socket that does not listen yet, and that socket. Below the
    /// kernel's ephemeral range: there, the gateway's own connection attempts to the closed port
    /// could pick it as their source port and connect to themselves.
    static func reservedPort() throws -> (Int32, Int) {
        for _ in 0..<100 {
            // Close-on-exec: a child process another test starts meanwhile would otherwise
            // inherit the socket and hold the port after this test closes it.
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw TestFailure("socket: \(errno)") }
            let port = Int.random(in: 20_000..<32_000)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            if bound { return (fd, port) }
            close(fd)
        }
        throw TestFailure("no free port below the ephemeral range")
    }

    @Test func deadEndpointDoesNotHoldUpOtherSessions() async throws {
        let dead = try await WebhookReceiver.start { _, _ in .silence }
        let alive = try await WebhookReceiver.start()
        let gateway = try await TestGateway.start(
            webhooks: .init(
                timeout: .seconds(30), allowPrivateAddresses: true, shutdownGracePeriod: .milliseconds(200)
            ))
        let deadSession = try await gateway.connectedSession(named: "Dead")
        let otherSessions = [("B", try await gateway.connectedSession(named: "B")), ("C", try await gateway.connectedSession(named: "C"))]
        try await gateway.addWebhook(url: dead.url, events: ["message.received"], session: deadSession.sessionID)
        for (_, other) in otherSessions {
            try await gateway.addWebhook(url: alive.url, events: ["message.received"], session: other.sessionID)
        }
        let perSession = 15
        for index in 0..<perSession {
            // The dead session's events are recorded first, and its API calls still return.
            try await gateway.receive("Dead \(index)", apiKey: deadSession.apiKey)
            for (name, other) in otherSessions { try await gateway.receive("\(name) \(index)", apiKey: other.apiKey) }
        }
        let requests = try await alive.waitForRequests(2 * perSession)
        #expect(requests.count == 2 * perSession)
        // All of that while the dead endpoint still holds its first request unanswered.
        #expect(dead.requests.count == 1)
        #expect(try await gateway.deliveries(session: deadSession.sessionID, state: "pending").count == perSession - 1)
        // Each session's events arrive in the order they happened.
        let texts = requests.compactMap { ($0.json["data"] as? [String: Any])?["message"] as? String }
        for (name, _) in otherSessions {
            #expect(texts.filter { $0.hasPrefix(name + " ") } == (0..<perSession).map { "\(name) \($0)" })
        }
        try await gateway.discard()
        await dead.stop()
        await alive.stop()
    }
}
