import AsyncHTTPClient
import BuzzBridgeGateway
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// `Idempotency-Key` on `POST /api/messages/send`: a repeat gets the first answer and sends
/// nothing, whether it comes later, races the first, or follows a `kill -9` of the server.
@Suite("Idempotent sends")
struct IdempotencyTests {
    static func send(_ gateway: ConfiguredGateway, key: String?, phone: String = "+60123450001", text: String = "once") async throws
        -> TestGateway.Reply
    {
        try await gateway.request(
            .POST, "/api/messages/send", bearer: gateway.apiKey, body: TestGateway.json(["phone": phone, "message": text]),
            headers: key.map { [("Idempotency-Key", $0)] } ?? []
        )
    }

    static func count(_ gateway: ConfiguredGateway, phone: String) async throws -> Int {
        let list = try await gateway.request(.GET, "/api/messages?phone=\(phone.replacingOccurrences(of: "+", with: "%2B"))", bearer: gateway.apiKey)
        return (try list.data["pagination"] as? [String: Any])?["total"] as? Int ?? -1
    }

    static func connect(_ gateway: ConfiguredGateway) async throws {
        #expect(try await gateway.request(.GET, "/api/qr", bearer: gateway.apiKey).status == 200)
        #expect(try await gateway.request(.POST, "/api/sandbox/scan", bearer: gateway.apiKey).status == 200)
    }

    @Test func aRepeatGetsTheFirstAnswerAndSendsNothing() async throws {
        let gateway = try await ConfiguredGateway.start()
        try await Self.connect(gateway)
        let first = try await Self.send(gateway, key: "order-42")
        #expect(first.status == 200)
        #expect(first.header("Idempotent-Replayed") == nil)
        let again = try await Self.send(gateway, key: "order-42")
        #expect(again.status == 200)
        #expect(again.body == first.body)
        #expect(again.header("Idempotent-Replayed") == "true")
        #expect(try await Self.count(gateway, phone: "+60123450001") == 1)
        // The same key with another request is refused; another key sends again.
        let other = try await Self.send(gateway, key: "order-42", text: "something else")
        #expect(other.status == 409)
        #expect(other.errorCode == "IDEMPOTENCY_KEY_REUSED")
        #expect(try await Self.send(gateway, key: "order-43").status == 200)
        #expect(try await Self.count(gateway, phone: "+60123450001") == 2)
        let bad = try await Self.send(gateway, key: String(repeating: "k", count: 256))
        #expect(bad.status == 400)
        #expect(bad.errorDetails["Idempotency-Key"] != nil)
        try await gateway.discard()
    }

    @Test func answersBeforeTheMessageWasStoredAreNotKept() async throws {
        let gateway = try await ConfiguredGateway.start()
        let inactive = try await Self.send(gateway, key: "k1")
        #expect(inactive.errorCode == "SESSION_INACTIVE")
        try await Self.connect(gateway)
        #expect(try await Self.send(gateway, key: "k1").status == 200)
        // A refusal by WhatsApp comes after the message was stored: it is the answer for good.
        let refused = try await Self.send(gateway, key: "k2", phone: "+60100000004")
        #expect(refused.errorCode == "INVALID_PHONE_NUMBER")
        let repeated = try await Self.send(gateway, key: "k2", phone: "+60100000004")
        #expect(repeated.status == refused.status)
        #expect(repeated.body == refused.body)
        #expect(try await Self.count(gateway, phone: "+60100000004") == 1)
        try await gateway.discard()
    }

    @Test func repeatsRacingTheFirstWaitForIt() async throws {
        // Paced sandbox sends: the first takes 300 ms, long enough for the repeats to arrive meanwhile.
        let pacing = SendPacingConfiguration(messagesPerMinute: 600, jitter: .milliseconds(300) ... .milliseconds(300), pacesSandbox: true)
        let gateway = try await ConfiguredGateway.start(security: SecurityConfiguration(sendPacing: pacing))
        try await Self.connect(gateway)
        let replies = try await withThrowingTaskGroup(of: TestGateway.Reply.self) { group in
            for _ in 1...8 { group.addTask { try await Self.send(gateway, key: "race", phone: "+60123450002") } }
            return try await group.reduce(into: [TestGateway.Reply]()) { $0.append($1) }
        }
        #expect(replies.allSatisfy { $0.status == 200 })
        let ids = Set(replies.compactMap { try? $0.data["message_id"] as? String })
        #expect(ids.count == 1)
        #expect(replies.filter { $0.header("Idempotent-Replayed") == "true" }.count == 7)
        #expect(try await Self.count(gateway, phone: "+60123450002") == 1)
        try await gateway.discard()
    }

    @Test func aRepeatAfterKillNineGetsTheFirstAnswer() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-idem-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let arguments = ["serve", "--data", directory, "--port", "0", "--log-level", "critical"]
        let first = try ServerProcess(arguments: arguments)
        let base = try await first.baseURL()
        let output = try await first.waitFor("API key")
        let key = try #require(output.split(separator: "\n").first { $0.contains("API key") }?.split(separator: " ").last.map(String.init))
        #expect(try await Self.call(base, key, .GET, "/api/qr").status == 200)
        #expect(try await Self.call(base, key, .POST, "/api/sandbox/scan").status == 200)
        let body = TestGateway.json(["phone": "+60123450003", "message": "exactly once"])
        let sent = try await Self.call(base, key, .POST, "/api/messages/send", body, idempotencyKey: "crash-1")
        #expect(sent.status == 200)
        await first.kill()

        let second = try ServerProcess(arguments: arguments)
        let restarted = try await second.baseURL()
        let again = try await Self.call(restarted, key, .POST, "/api/messages/send", body, idempotencyKey: "crash-1")
        #expect(again.status == 200)
        #expect(again.body == sent.body)
        #expect(again.header("Idempotent-Replayed") == "true")
        let list = try await Self.call(restarted, key, .GET, "/api/messages?phone=%2B60123450003")
        #expect((try list.data["pagination"] as? [String: Any])?["total"] as? Int == 1)
        await second.terminate()
    }

    static func call(
        _ base: String, _ key: String, _ method: HTTPMethod, _ path: String, _ body: String? = nil, idempotencyKey: String? = nil
    ) async throws -> TestGateway.Reply {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        if let idempotencyKey { request.headers.add(name: "Idempotency-Key", value: idempotencyKey) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await TestGateway.client.execute(request, timeout: .seconds(30))
        let buffer = try await response.body.collect(upTo: 1 << 20)
        return TestGateway.Reply(
            status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) }, body: Data(buffer.readableBytesView))
    }
}
