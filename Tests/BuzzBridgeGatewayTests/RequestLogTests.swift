import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// What `buzzbridge serve --log-format json` writes about requests: every line of a request
/// carries its id, and message text shows only with `--log-sensitive`.
@Suite("Request ids and redaction in logs")
struct RequestLogTests {

    /// A server child process logging JSON at debug level, its API key, and its address.
    private func startServer(data: String, extra: [String] = [], environment: [String: String] = [:]) async throws
        -> (ServerProcess, key: String, url: String)
    {
        let server = try ServerProcess(
            arguments: ["serve", "--data", data, "--port", "0", "--log-format", "json", "--log-level", "debug"] + extra,
            environment: environment, logs: true
        )
        // The log (Hummingbird's own "listening on" line among it) shares the pipe: read the announcements.
        let output = try await server.waitFor("BuzzBridge listening on ")
        let lines = output.split(separator: "\n")
        guard let keyLine = lines.first(where: { $0.contains("API key (shown once") }), let key = keyLine.split(separator: " ").last,
            let addressLine = lines.first(where: { $0.hasPrefix("BuzzBridge listening on ") }),
            let url = addressLine.split(separator: " ").first(where: { $0.hasPrefix("http://") })
        else { throw TestFailure("no API key or address in: \(output)") }
        return (server, String(key), String(url))
    }

    private func request(
        _ method: HTTPMethod, _ url: String, key: String, body: String? = nil, requestID: String? = nil
    ) async throws -> (status: Int, requestID: String?) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        if let requestID { request.headers.add(name: "X-Request-Id", value: requestID) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await TestGateway.client.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), response.headers["X-Request-Id"].first)
    }

    /// The JSON log entries in `output`.
    private func entries(_ output: String) throws -> [[String: Any]] {
        try output.split(separator: "\n").filter { $0.hasPrefix("{") }.map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], "\($0)")
        }
    }

    private func requestID(of entry: [String: Any]) -> String? { (entry["metadata"] as? [String: Any])?["hb.request.id"] as? String }

    @Test func everyLogLineOfARequestCarriesTheIdOfItsResponse() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-reqid-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        let (server, key, url) = try await startServer(data: data)

        // A generated id, then a caller's own, then a malformed one that is replaced.
        let generated = try await request(.GET, url + "/api/session/status", key: key)
        #expect(generated.status == 200)
        let generatedID = try #require(generated.requestID)
        let chosen = try await request(.GET, url + "/api/session/status", key: key, requestID: "trace-42.abc:def")
        #expect(chosen.requestID == "trace-42.abc:def")
        let malformed = try await request(.GET, url + "/api/session/status", key: key, requestID: "has space\"and quote")
        let replacedID = try #require(malformed.requestID)
        #expect(replacedID != "has space\"and quote")
        // A refusal carries an id too, and is logged with it.
        let refused = try await request(.GET, url + "/api/session/status", key: "bzb_test_wrong", requestID: "refused-1")
        #expect(refused.status == 401)
        #expect(refused.requestID == "refused-1")
        let ids = Set([generatedID, "trace-42.abc:def", replacedID, "refused-1"])
        #expect(ids.count == 4, "each request its own id")

        let output = try await server.waitFor("refused-1")
        await server.terminate()
        let requestLines = try entries(output).filter { $0["message"] as? String == "request" }
        #expect(requestLines.count >= 4)
        for id in ids {
            let lines = requestLines.filter { requestID(of: $0) == id }
            #expect(lines.count == 1, "one request line carries \(id): \(output)")
        }
    }

    @Test func messageTextIsLoggedOnlyWithLogSensitive() async throws {
        for sensitive in [false, true] {
            let data = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-redact-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: data) }
            let (server, key, url) = try await startServer(
                data: data, environment: sensitive ? ["BUZZBRIDGE_LOG_SENSITIVE": "1"] : ["BUZZBRIDGE_LOG_SENSITIVE": "0"]
            )
            let marker = "marker-\(UUID().uuidString)"
            #expect(try await request(.GET, url + "/api/qr", key: key).status == 200)
            #expect(try await request(.POST, url + "/api/sandbox/scan", key: key).status == 200)
            let sent = try await request(
                .POST, url + "/api/messages/send", key: key, body: #"{"phone":"+60123456789","message":"sent \#(marker)"}"#, requestID: "send-1"
            )
            #expect(sent.status == 200)
            let incoming = try await request(
                .POST, url + "/api/sandbox/incoming", key: key, body: #"{"phone":"+60198765432","message":"got \#(marker)"}"#
            )
            #expect(incoming.status == 200)
            // Standard output (the first start's key) is collected with the log: only log entries count.
            let output = try await server.waitFor("message received").split(separator: "\n").filter { $0.hasPrefix("{") }.joined(separator: "\n")
            await server.terminate()

            let sendLine = try #require(try entries(output).first { $0["message"] as? String == "message sent" }, "\(output)")
            #expect(requestID(of: sendLine) == "send-1", "the send's own line carries its request id")
            #expect(output.contains("sent \(marker)") == sensitive, "sent text in the log: \(sensitive)")
            #expect(output.contains("got \(marker)") == sensitive, "received text in the log: \(sensitive)")
            #expect(output.contains("+60198765432") == sensitive, "the sender's number in the log: \(sensitive)")
            // The API key's secret part never appears, flag or not.
            #expect(!output.contains(String(key.suffix(20))))
        }
    }
}
