import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TestSupport
import Testing

/// `buzzbridge serve --database postgres://…` as a real process against the tests' own PostgreSQL
/// server: the API, the webhook dispatcher and a restart, with nothing in the data folder.
@Suite("Serving from PostgreSQL")
struct PostgresServeTests {
    private func start(database: String, data: String) async throws -> (ServerProcess, output: String, url: String) {
        let server = try ServerProcess(
            arguments: ["serve", "--data", data, "--port", "0", "--log-level", "error", "--webhook-retry-delays", "1"],
            environment: ["BUZZBRIDGE_DATABASE_URL": database, "BUZZBRIDGE_WEBHOOK_ALLOW_PRIVATE": "1"]
        )
        let url = try await server.baseURL()
        return (server, try await server.waitFor("listening on"), url)
    }

    @Test func aSandboxSessionSendsReceivesAndDeliversWebhooksAcrossARestart() async throws {
        let database = try await PostgresTestServer.shared.newDatabaseURL()
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-pgserve-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        let receiver = try await WebhookReceiver.start()

        let (first, output, url) = try await start(database: database, data: data)
        let key = try ServedProcess.announced("API key (shown once", in: output)
        let admin = try ServedProcess.announced("Admin token (shown once", in: output)
        #expect(try await ServedProcess.call(.GET, url + "/api/qr", bearer: key).status == 200)
        #expect(try await ServedProcess.call(.POST, url + "/api/sandbox/scan", bearer: key).status == 200)
        let status = try await ServedProcess.call(.GET, url + "/api/session/status", bearer: key)
        let session = try #require((status.json["data"] as? [String: Any])?["session_id"] as? String)
        let hook = try await ServedProcess.call(
            .POST, url + "/admin/api/sessions/\(session)/webhooks", bearer: admin,
            body: #"{"url":"http://127.0.0.1:\#(receiver.port)/hook","secret":"pg-secret-123","events":["message.received"]}"#
        )
        #expect(hook.status == 201)
        #expect(
            try await ServedProcess.call(.POST, url + "/api/messages/send", bearer: key, body: #"{"phone":"+60123456789","message":"from postgres"}"#)
                .status == 200
        )
        #expect(
            try await ServedProcess.call(.POST, url + "/api/sandbox/incoming", bearer: key, body: #"{"phone":"+60198765432","message":"hello pg"}"#)
                .status == 200)
        let delivered = try await receiver.waitForRequests(1)
        #expect(String(decoding: delivered[0].body, as: UTF8.self).contains("hello pg"))
        await first.terminate()

        // Everything lives in PostgreSQL: the data folder holds no database, and a new process sees it all.
        #expect(!FileManager.default.fileExists(atPath: data + "/buzzbridge.sqlite"))
        let (second, secondOutput, secondURL) = try await start(database: database, data: data)
        #expect(!secondOutput.contains("API key (shown once"), "not a first start")
        let messages = try await ServedProcess.call(.GET, secondURL + "/api/messages", bearer: key)
        #expect(messages.status == 200)
        let pagination = (messages.json["data"] as? [String: Any])?["pagination"] as? [String: Any]
        #expect(pagination?["total"] as? Int == 2, "the send and the incoming message: \(messages.json)")
        let deliveries = try await ServedProcess.call(.GET, secondURL + "/admin/api/sessions/\(session)/deliveries", bearer: admin)
        #expect((deliveries.json["data"] as? [[String: Any]])?.first?["state"] as? String == "succeeded", "\(deliveries.json)")
        await second.terminate()
        await receiver.stop()
    }

    /// Two nodes on one database give a key one budget, and an address one budget of failed
    /// authentications, however the requests are spread over them.
    @Test func twoNodesShareTheRateLimits() async throws {
        let database = try await PostgresTestServer.shared.newDatabaseURL()
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-pglimits-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        func node() throws -> ServerProcess {
            try ServerProcess(
                arguments: ["serve", "--data", data, "--port", "0", "--log-level", "error", "--rate-limit", "10", "--failed-auth-limit", "4"],
                environment: ["BUZZBRIDGE_DATABASE_URL": database])
        }
        let first = try node()
        let key = try ServedProcess.announced("API key (shown once", in: try await first.waitFor("listening on"))
        let second = try node()
        _ = try await second.waitFor("listening on")
        let urls = [try await first.baseURL(), try await second.baseURL()]

        func get(_ url: String, bearer: String) async throws -> HTTPClientResponse {
            var request = HTTPClientRequest(url: url + "/api/messages")
            request.headers.add(name: "Authorization", value: "Bearer \(bearer)")
            let response = try await TestGateway.client.execute(request, timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 1 << 20)
            return response
        }
        var remaining: [String] = []
        for index in 0..<10 {
            let response = try await get(urls[index % 2], bearer: key)
            #expect(response.status == .ok)
            remaining.append(response.headers.first(name: "X-RateLimit-Remaining") ?? "-")
        }
        #expect(remaining == (0..<10).reversed().map(String.init), "one budget counted down across both nodes")
        for url in urls {
            let refused = try await get(url, bearer: key)
            #expect(refused.status == .tooManyRequests)
            #expect(refused.headers.first(name: "Retry-After") != nil)
        }

        let wrong = "bzk_live_" + String(repeating: "x", count: 40)
        for index in 0..<4 {
            #expect(try await get(urls[index % 2], bearer: wrong).status == .unauthorized)
        }
        for url in urls {
            #expect(try await get(url, bearer: wrong).status == .tooManyRequests, "the fifth failure from this address, on either node")
        }
        await first.terminate()
        await second.terminate()
    }
}
