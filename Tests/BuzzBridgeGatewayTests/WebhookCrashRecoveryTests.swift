import AsyncHTTPClient
import BuzzBridgeCore
import BuzzBridgeGateway
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// The real executable, killed with SIGKILL while deliveries are pending and one is in flight.
@Suite("Webhook crash recovery")
struct WebhookCrashRecoveryTests {
    @Test func pendingDeliveriesSurviveKillNineAndRestart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-crash-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try await DataFolder.openStore(at: directory)
        let provisioning = Provisioning(store: store)
        let (session, key) = try #require(try await provisioning.firstStart())
        try await store.close()

        // Before the crash: the first delivery is answered 500 (a retry is scheduled), the second
        // is never answered (it is in flight when the process dies), the rest wait their turn.
        let receiver = try await WebhookReceiver.start { index, _ in index == 1 ? .silence : .status(500) }
        let set = try await BuzzBridgeExecutable.run([
            "webhooks", "set", "--data", directory, "--session", session.id.rawValue, "--url", receiver.url,
            "--secret", "crash_secret", "--events", "message.received",
        ])
        #expect(set.status == 0, "\(set.output)")
        let serveArguments = [
            "serve", "--data", directory, "--port", "0", "--webhook-allow-private-addresses",
            "--webhook-retry-delays", "2,2,2", "--webhook-timeout", "20", "--log-level", "error",
        ]
        let first = try ServerProcess(arguments: serveArguments)
        let api = try await first.baseURL()
        let client = APIClient(baseURL: api, apiKey: key.plaintext)
        try await client.call(.GET, "/api/qr")
        try await client.call(.POST, "/api/sandbox/scan")
        let count = 8
        for index in 0..<count {
            try await client.call(.POST, "/api/sandbox/incoming", ["phone": "+60123456789", "message": "crash \(index)"])
        }
        let beforeCrash = try await receiver.waitForRequests(2)
        try #require(beforeCrash.count == 2)
        await first.kill()

        receiver.respond { _, _ in .status(200) }
        let second = try ServerProcess(arguments: serveArguments)
        _ = try await second.baseURL()
        let all = try await receiver.waitForRequests(2 + count, timeout: .seconds(20))
        await second.terminate()
        await receiver.stop()

        let afterRestart = Array(all.dropFirst(2))
        let texts = afterRestart.compactMap { ($0.json["data"] as? [String: Any])?["message"] as? String }
        let expected = (0..<count).map { "crash \($0)" }
        #expect(texts.sorted() == expected.sorted(), "every event")
        // "crash 0" waits for its retry time, which may not have come yet: the others keep their order.
        #expect(texts.filter { $0 != "crash 0" } == Array(expected.dropFirst()))
        let ids = afterRestart.compactMap { $0.header("X-BuzzBridge-Delivery") }
        #expect(Set(ids).count == count, "no delivery twice")
        // The retried one and the one cut off by the crash keep their delivery ids.
        let idsBeforeCrash = beforeCrash.compactMap { $0.header("X-BuzzBridge-Delivery") }
        #expect(idsBeforeCrash.count == 2 && Set(idsBeforeCrash).isSubset(of: Set(ids)))
        for request in afterRestart {
            #expect(request.header("X-Webhook-Signature") == "sha256=" + WebhookDeliveryTests.hmacHex(request.body, key: "crash_secret"))
        }
    }
}

@Suite("Webhooks CLI")
struct WebhooksCLITests {
    @Test func webhooksSetListAndRemoveWhileTheServerRuns() async throws {
        let receiver = try await WebhookReceiver.start()
        let gateway = try await TestGateway.start()
        let data = gateway.dataDirectory
        let set = try await BuzzBridgeExecutable.run([
            "webhooks", "set", "--data", data, "--session", gateway.sessionID, "--url", receiver.url, "--secret", "cli_secret",
            "--events", "message.received",
        ])
        #expect(set.status == 0, "\(set.output)")
        let id = try #require(set.output.split(separator: "\n").first?.split(separator: " ").last.map(String.init))
        #expect(id.hasPrefix("wh_"))
        let list = try await BuzzBridgeExecutable.run(["webhooks", "list", "--data", data, "--session", gateway.sessionID])
        #expect(list.output.contains(id) && list.output.contains(receiver.url), "\(list.output)")
        let refused = try await BuzzBridgeExecutable.run([
            "webhooks", "set", "--data", data, "--session", gateway.sessionID, "--url", "ftp://ofys.example/", "--secret", "x",
        ])
        #expect(refused.status != 0)

        try await gateway.connect()
        try await gateway.receive("set from the command line")
        let requests = try await receiver.waitForRequests(1)
        #expect(requests.count == 1)
        #expect(
            requests.first?.header("X-Webhook-Signature") == "sha256=" + WebhookDeliveryTests.hmacHex(requests.first?.body ?? [], key: "cli_secret"))

        let remove = try await BuzzBridgeExecutable.run(["webhooks", "remove", "--data", data, "--webhook", id])
        #expect(remove.status == 0, "\(remove.output)")
        let remaining = try await gateway.get("/admin/api/sessions/\(gateway.sessionID)/webhooks", auth: .admin).json["data"] as? [Any]
        #expect(remaining?.isEmpty == true)
        try await gateway.discard()
        await receiver.stop()
    }
}

/// Plain API calls to a server that is not a ``TestGateway``.
struct APIClient {
    let baseURL: String
    let apiKey: String

    func call(_ method: HTTPMethod, _ path: String, _ body: [String: Any]? = nil) async throws {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: TestGateway.json(body)))
        }
        let response = try await TestGateway.client.execute(request, timeout: .seconds(30))
        let reply = try await response.body.collect(upTo: 1 << 20)
        guard response.status.code < 300 else {
            throw TestFailure("\(method) \(path): \(response.status.code) \(String(buffer: reply))")
        }
    }
}
