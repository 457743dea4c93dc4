import Foundation
import Testing

@Suite("First start, CLI, restart")
struct LifecycleTests {
    private func temporaryFolder() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("bzb-cli-\(UUID().uuidString)").path
    }

    /// Below the kernel's ephemeral range (32768 and up), where outgoing connections take their ports.
    private func freePort() -> Int { Int.random(in: 20_000..<32_000) }

    @Test func firstStartPrintsOneSandboxKeyAndTheCLIManagesKeysWhileItRuns() async throws {
        let data = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let port = freePort()
        let server = try ServerProcess(arguments: ["serve", "--data", data, "--port", "\(port)"])
        let banner = try await server.waitFor("listening on")
        let key = try #require(banner.firstMatch(of: /bzb_test_[A-Za-z0-9]{32}/).map { String($0.output) })
        let sessionID = try #require(banner.firstMatch(of: /session_[A-Za-z0-9]+/).map { String($0.output) })
        #expect(banner.contains("bzb_admin_"))
        #expect(FileManager.default.fileExists(atPath: data + "/buzzbridge.sqlite"))
        // The data folder and the database (webhook secrets in plain text) are the owner's alone.
        #expect(try FileManager.default.attributesOfItem(atPath: data)[.posixPermissions] as? Int == 0o700)
        #expect(try FileManager.default.attributesOfItem(atPath: data + "/buzzbridge.sqlite")[.posixPermissions] as? Int == 0o600)

        // The CLI works on the same data folder while the server runs.
        let list = try await BuzzBridgeExecutable.run(["sessions", "list", "--data", data])
        #expect(list.status == 0)
        #expect(list.output.contains(sessionID))
        #expect(list.output.hasPrefix("SESSION"), "a table with its header")
        let created = try await BuzzBridgeExecutable.run(["keys", "create", "--data", data, "--session", sessionID, "--label", "ci"])
        #expect(created.status == 0)
        let secondKey = try #require(created.output.firstMatch(of: /bzb_test_[A-Za-z0-9]{32}/).map { String($0.output) })
        let keys = try await BuzzBridgeExecutable.run(["keys", "list", "--data", data, "--session", sessionID])
        #expect(!keys.output.contains(key) && !keys.output.contains(secondKey), "lists never show whole keys")
        let keyID = String(key.dropFirst("bzb_test_".count).prefix(12))
        #expect(keys.output.contains(keyID))

        let statusWith = { (key: String) async throws -> UInt in
            var request = HTTPClientRequestFactory.get("http://127.0.0.1:\(port)/api/session/status", bearer: key)
            request.headers.add(name: "Connection", value: "close")
            return try await TestGateway.client.execute(request, timeout: .seconds(10)).status.code
        }
        #expect(try await statusWith("bzb_test_" + String(repeating: "0", count: 32)) == 401)
        #expect(try await statusWith(key) == 200)
        #expect(try await statusWith(secondKey) == 200)
        let revoke = try await BuzzBridgeExecutable.run(["keys", "revoke", "--data", data, "--key", keyID])
        #expect(revoke.status == 0)
        #expect(try await statusWith(key) == 401, "a key revoked by the CLI stops working at once")
        #expect(try await statusWith(secondKey) == 200)

        let unknown = try await BuzzBridgeExecutable.run(["keys", "revoke", "--data", data, "--key", "nosuchkey"])
        #expect(unknown.status != 0)

        let newSession = try await BuzzBridgeExecutable.run(["sessions", "create", "--data", data, "--kind", "live", "--name", "OFYS"])
        #expect(newSession.output.contains("bzb_live_"))
        await server.terminate()
    }

    @Test func flagsSetThroughTheEnvironmentStartTheServer() async throws {
        let data = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let server = try ServerProcess(
            arguments: ["serve", "--data", data, "--port", "0"],
            environment: ["BUZZBRIDGE_TRUST_PROXY": "1", "BUZZBRIDGE_WEBHOOK_ALLOW_PRIVATE": "1"]
        )
        _ = try await server.waitFor("listening on")
        await server.terminate()
    }

    @Test func helpExplainsEveryCommand() async throws {
        for arguments in [["--help"], ["serve", "--help"], ["sessions", "--help"], ["keys", "--help"], ["keys", "create", "--help"]] {
            let result = try await BuzzBridgeExecutable.run(arguments)
            #expect(result.status == 0, "\(arguments)")
            #expect(result.output.contains("USAGE"), "\(arguments)")
        }
    }

    @Test func restartKeepsSessionsKeysAndMessages() async throws {
        let first = try await TestGateway.start()
        try await first.connect()
        let sent = try await first.post("/api/messages/send", #"{"phone":"+60123456789","message":"before restart"}"#)
        let sentID = try #require(try sent.data["message_id"] as? String)
        #expect(try await first.post("/api/sandbox/incoming", #"{"phone":"+60123456789","name":"John","message":"hello"}"#).status == 200)
        try await first.stop()

        let second = try await TestGateway.start(
            dataDirectory: first.dataDirectory, credentials: (first.apiKey, first.adminToken, first.sessionID)
        )
        let status = try await second.get("/api/session/status").data
        #expect(status["status"] as? String == "active")
        #expect(status["phone_number"] as? String == "+60100000000")
        let messages = try await second.get("/api/messages").data["messages"] as? [[String: Any]] ?? []
        #expect(messages.count == 2)
        #expect(messages.contains { $0["id"] as? String == sentID })
        #expect(try await second.get("/api/conversations/+60123456789").data["contact_name"] as? String == "John")
        // The restored session still sends.
        #expect(try await second.post("/api/messages/send", #"{"phone":"+60123456789","message":"after restart"}"#).status == 200)
        try await second.discard()
    }

    @Test func aQRCodeShownBeforeARestartEndsThePairing() async throws {
        let first = try await TestGateway.start()
        #expect(try await first.get("/api/qr").status == 200)
        try await first.stop()
        let second = try await TestGateway.start(dataDirectory: first.dataDirectory, credentials: (first.apiKey, first.adminToken, first.sessionID))
        #expect(try await second.get("/api/session/status").data["status"] as? String == "disconnected")
        #expect(try await second.post("/api/sandbox/scan").errorCode == "VALIDATION_ERROR")
        #expect(try await second.get("/api/qr").status == 200)
        try await second.discard()
    }

    @Test func jsonLogsAreOneObjectPerLine() async throws {
        let data = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let server = try ServerProcess(
            arguments: ["serve", "--data", data, "--port", "\(freePort())", "--log-format", "json", "--log-level", "info"], logs: true
        )
        _ = try await server.waitFor("listening on")
        let text = try await server.waitFor("\"level\":\"info\"")
        await server.terminate()
        let entries = text.split(separator: "\n").filter { $0.hasPrefix("{") }
        #expect(!entries.isEmpty)
        for line in entries {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
            #expect(Set(object.keys).isSuperset(of: ["timestamp", "level", "label", "message", "source"]), "\(line)")
        }
        let refused = try await BuzzBridgeExecutable.run(["serve", "--data", data, "--log-format", "yaml"])
        #expect(refused.status != 0)
        #expect(refused.output.contains("--log-format"))
    }
}
