import AsyncHTTPClient
import BuzzBridgeCore
import BuzzBridgeGateway
import BuzzBridgeStorage
import Foundation
import NIOCore
import NIOHTTP1
import TestSupport
import Testing

/// The live engine through BuzzBridge's public interface only: the built executable, its CLI,
/// HTTP and a webhook receiver, against the WhatsApp server double (TLS through its CONNECT
/// proxy, its Noise root, its phone).
@Suite("Live engine end to end against the server double", .serialized)
struct LiveEngineEndToEndTests {
    let phone = "60123456789"

    /// A data folder with a live session and a webhook endpoint for it, made with the CLI.
    struct Setup {
        let data: String
        let apiKey: String
        let sessionID: String
    }

    func setUp(receiver: WebhookReceiver, events: String = "session.status") async throws -> Setup {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-live-e2e-\(UUID().uuidString)").path
        let created = try await BuzzBridgeExecutable.run(["sessions", "create", "--data", data, "--kind", "live", "--name", "OFYS Support"])
        #expect(created.status == 0, "\(created.output)")
        func field(_ name: String) throws -> String {
            let line = try #require(created.output.split(separator: "\n").first { $0.hasPrefix(name + ":") })
            return try #require(line.split(separator: " ").dropFirst().first.map(String.init))
        }
        let apiKey = try field("api_key"), sessionID = try field("session_id")
        #expect(apiKey.hasPrefix("bzb_live_"))
        let webhook = try await BuzzBridgeExecutable.run([
            "webhooks", "set", "--data", data, "--session", sessionID, "--url", receiver.url, "--secret", "live_secret", "--events", events,
        ])
        #expect(webhook.status == 0, "\(webhook.output)")
        return Setup(data: data, apiKey: apiKey, sessionID: sessionID)
    }

    func serve(_ setup: Setup, _ double: WhatsAppServerDouble, extra: [String] = []) throws -> ServerProcess {
        try ServerProcess(
            arguments: [
                "serve", "--data", setup.data, "--port", "0", "--webhook-allow-private-addresses", "--webhook-retry-delays", "1",
                "--log-level", "warning",
            ] + double.serveArguments + extra)
    }

    func api(_ base: String, _ key: String, _ method: HTTPMethod, _ path: String, _ body: String? = nil) async throws -> (Int, [String: Any]) {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await TestGateway.client.execute(request, timeout: .seconds(60))
        let data = try await response.body.collect(upTo: 1 << 24)
        let json = (try? JSONSerialization.jsonObject(with: Data(data.readableBytesView))) as? [String: Any] ?? [:]
        return (Int(response.status.code), json)
    }

    func status(_ base: String, _ key: String) async throws -> [String: Any] {
        try await api(base, key, .GET, "/api/session/status").1["data"] as? [String: Any] ?? [:]
    }

    func eventually(_ what: String, within timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("timed out waiting for \(what)")
    }

    /// The distinct deliveries received so far.
    private func deliveries(_ receiver: WebhookReceiver) -> Set<String> {
        Set(receiver.requests.compactMap { $0.header("X-BuzzBridge-Delivery") })
    }

    /// The `change` of each `session.status` webhook received so far, in order.
    func changes(_ receiver: WebhookReceiver) -> [String] {
        receiver.requests.compactMap { ($0.json["data"] as? [String: Any])?["change"] as? String }
    }

    @Test func aPhoneScansTheQRThenTheSessionSurvivesKillNineWithoutANewQR() async throws {
        let double = try await WhatsAppServerDouble()
        let receiver = try await WebhookReceiver.start()
        let setup = try await setUp(receiver: receiver)
        defer { try? FileManager.default.removeItem(atPath: setup.data) }

        let first = try serve(setup, double)
        let base = try await first.baseURL()
        #expect(try await first.waitFor("WARNING: --wa-noise-root-key").contains("never in production"))
        let (qrStatus, qr) = try await api(base, setup.apiKey, .GET, "/api/qr")
        #expect(qrStatus == 200, "\(qr)")
        let data = try #require(qr["data"] as? [String: Any])
        let uri = try #require(data["qr_code"] as? String)
        let png = try #require(Data(base64Encoded: String(uri.dropFirst("data:image/png;base64,".count))))
        let decoded = try JSONSerialization.jsonObject(with: try await PythonPeer.check("qr_decode.py", input: png)) as? [[String: Any]]
        let text = try #require(decoded?.first?["text"] as? String)
        #expect(text.hasPrefix("https://wa.me/settings/linked_devices#"), "\(text)")
        let expiresAt = try #require((data["expires_at"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) })
        #expect(expiresAt.timeIntervalSinceNow > 30 && expiresAt.timeIntervalSinceNow <= 61, "the first ref lives 60 s")
        #expect(try await status(base, setup.apiKey)["status"] as? String == "pending")

        let scanned = try await double.ok(.POST, "/phone/scan", ["qr": text, "phone": phone])
        let jid = try #require(scanned["jid"] as? String)
        try await eventually("the session to be active") {
            let now = try await status(base, setup.apiKey)
            return now["status"] as? String == "active" && now["connection"] as? String == "connected"
        }
        let active = try await status(base, setup.apiKey)
        #expect(active["phone_number"] as? String == "+" + phone)
        #expect((active["lid"] as? String)?.isEmpty == false)
        #expect(active["connected_at"] is String)
        try await eventually("the connected webhook") { changes(receiver).contains("connected") }
        let connected = try #require(receiver.requests.first { ($0.json["data"] as? [String: Any])?["change"] as? String == "connected" })
        #expect((connected.json["data"] as? [String: Any])?["phone_number"] as? String == "+" + phone)
        #expect((connected.json["data"] as? [String: Any])?["status"] as? String == "active")
        #expect(changes(receiver).first == "qr_generated")
        try await eventually("the device to log in at the double") {
            try await double.clients().contains { $0["jid"] as? String == jid && $0["state"] as? String == "logged-in" }
        }
        let webhooksBeforeCrash = deliveries(receiver)

        // kill -9, then the same command again: the stored credentials log in, no QR.
        await first.kill()
        let second = try serve(setup, double)
        let restartedBase = try await second.baseURL()
        try await eventually("a second login of the same device") {
            let clients = try await double.clients().filter { $0["jid"] as? String == jid }
            return clients.filter { $0["payload"] as? String == "login" }.count >= 2 && clients.contains { $0["state"] as? String == "logged-in" }
        }
        try await eventually("the restarted session to be connected") {
            let now = try await status(restartedBase, setup.apiKey)
            return now["status"] as? String == "active" && now["connection"] as? String == "connected"
        }
        #expect(try await status(restartedBase, setup.apiKey)["phone_number"] as? String == "+" + phone)
        let (again, _) = try await api(restartedBase, setup.apiKey, .GET, "/api/qr")
        #expect(again == 400, "an active session shows no QR")
        try await Task.sleep(for: .seconds(1))
        // (A delivery cut off by the kill is sent again with its id: at least once.)
        #expect(deliveries(receiver) == webhooksBeforeCrash, "a restart is not a new link: \(changes(receiver))")
        // Only the pairing connection ever registered: the restart logged in with the stored device.
        #expect(try await double.clients().filter { $0["payload"] as? String == "registration" }.count == 1)

        // The API's disconnect tells WhatsApp first, then wipes.
        let (disconnected, _) = try await api(restartedBase, setup.apiKey, .POST, "/api/session/disconnect")
        #expect(disconnected == 200)
        let after = try await status(restartedBase, setup.apiKey)
        #expect(after["status"] as? String == "disconnected")
        #expect(after["disconnect_reason"] as? String == "logged_out")
        try await eventually("the double to record the logout") {
            let logouts = try await double.state()["logouts"] as? [Any] ?? []
            return !logouts.isEmpty
        }
        try await eventually("the disconnected webhook") { changes(receiver).last == "disconnected" }

        await second.terminate()
        await receiver.stop()
        await double.stop()
    }

    @Test func thePhoneTypesThePairingCode() async throws {
        let double = try await WhatsAppServerDouble()
        let receiver = try await WebhookReceiver.start()
        let setup = try await setUp(receiver: receiver)
        defer { try? FileManager.default.removeItem(atPath: setup.data) }
        let server = try serve(setup, double)
        let base = try await server.baseURL()

        let (codeStatus, answer) = try await api(base, setup.apiKey, .POST, "/api/session/pairing-code", #"{"phone":"+\#(phone)"}"#)
        #expect(codeStatus == 200, "\(answer)")
        let code = try #require((answer["data"] as? [String: Any])?["pairing_code"] as? String)
        #expect(code.count == 8)
        let typed = "\(code.prefix(4))-\(code.dropFirst(4))"
        try await double.ok(.POST, "/phone/enter-code", ["code": typed, "phone": phone])
        try await eventually("the session to be active") {
            try await status(base, setup.apiKey)["status"] as? String == "active"
        }
        #expect(try await status(base, setup.apiKey)["phone_number"] as? String == "+" + phone)
        try await eventually("the webhooks") { changes(receiver).contains("connected") }
        #expect(changes(receiver).contains("pairing_code_generated"))

        // The phone removes the linked device: disconnected, with the reason.
        let jid = try #require(try await double.clients().first { $0["state"] as? String == "logged-in" }?["jid"] as? String)
        try await double.ok(.POST, "/phone/remove-device", ["jid": jid])
        try await eventually("the session to be disconnected") {
            try await status(base, setup.apiKey)["status"] as? String == "disconnected"
        }
        #expect(try await status(base, setup.apiKey)["disconnect_reason"] as? String == "device_removed")
        try await eventually("the disconnected webhook") { changes(receiver).last == "disconnected" }
        let last = try #require(receiver.requests.last)
        #expect((last.json["data"] as? [String: Any])?["reason"] as? String == "device_removed")

        await server.terminate()
        // Checked in the store itself: nothing of the device is left.
        let store = try await DataFolder.openStore(at: setup.data)
        let left = try await store.readProtocolState(session: SessionID(rawValue: setup.sessionID)) { state in
            [try state.credentials() != nil, try state.pairedDevice() != nil, try state.uploadedPreKeyCount() > 0]
        }
        try await store.close()
        #expect(left == [false, false, false], "credentials, pairing, prekeys after the removal: \(left)")
        await receiver.stop()
        await double.stop()
    }

    @Test func badWhatsAppSettingsStopServeWithTheFlagNamed() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-live-flags-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        for (arguments, flag) in [
            (["--wa-version", "2.x.1"], "--wa-version"), (["--wa-proxy", "ftp://127.0.0.1:1"], "--wa-proxy"),
            (["--wa-noise-root-key", "abcd"], "--wa-noise-root-key"), (["--wa-ca-file", "/nonexistent.pem"], "--wa-ca-file"),
        ] {
            let result = try await BuzzBridgeExecutable.run(["serve", "--data", data, "--port", "0"] + arguments)
            #expect(result.status != 0)
            #expect(result.output.contains("Error: \(flag)"), "\(result.output)")
        }
    }

    /// A server whose Noise certificate chain is not signed by the trusted root is refused before
    /// anything is paired: the API names the failure and the store holds no pairing.
    @Test func aChainNotSignedByTheRootIsRefusedAndNothingIsPaired() async throws {
        let double = try await WhatsAppServerDouble()
        let receiver = try await WebhookReceiver.start()
        let setup = try await setUp(receiver: receiver)
        defer { try? FileManager.default.removeItem(atPath: setup.data) }
        var arguments = double.serveArguments
        let rootFlag = try #require(arguments.firstIndex(of: "--wa-noise-root-key"))
        arguments[rootFlag + 1] = String(repeating: "5a", count: 32)
        let server = try ServerProcess(
            arguments: ["serve", "--data", setup.data, "--port", "0", "--webhook-allow-private-addresses", "--log-level", "warning"] + arguments)
        let base = try await server.baseURL()
        let (qrStatus, answer) = try await api(base, setup.apiKey, .GET, "/api/qr")
        #expect(qrStatus == 503, "\(answer)")
        let error = try #require(answer["error"] as? [String: Any])
        #expect(error["code"] as? String == "SERVICE_UNAVAILABLE")
        #expect((error["message"] as? String)?.contains("Signature") == true, "names the failed check: \(error)")
        #expect(try await status(base, setup.apiKey)["status"] as? String == "disconnected")
        #expect(try await double.clients().allSatisfy { $0["state"] as? String != "unpaired" }, "no connection got as far as pairing")
        await server.terminate()
        let store = try await DataFolder.openStore(at: setup.data)
        let paired = try await store.readProtocolState(session: SessionID(rawValue: setup.sessionID)) { try $0.pairedDevice() != nil }
        try await store.close()
        #expect(!paired)
        await receiver.stop()
        await double.stop()
    }

    /// A `pair-success` that fails a check is refused: the session ends `pairing_refused` with a
    /// webhook, nothing is stored, and a new QR starts over.
    @Test(arguments: ["hmac", "signature"])
    func aTamperedPairSuccessIsRefusedWithAClearStatus(tamper: String) async throws {
        let double = try await WhatsAppServerDouble()
        let receiver = try await WebhookReceiver.start()
        let setup = try await setUp(receiver: receiver)
        defer { try? FileManager.default.removeItem(atPath: setup.data) }
        let server = try serve(setup, double)
        let base = try await server.baseURL()
        let (_, qr) = try await api(base, setup.apiKey, .GET, "/api/qr")
        let uri = try #require((qr["data"] as? [String: Any])?["qr_code"] as? String)
        let png = try #require(Data(base64Encoded: String(uri.dropFirst("data:image/png;base64,".count))))
        let decoded = try JSONSerialization.jsonObject(with: try await PythonPeer.check("qr_decode.py", input: png)) as? [[String: Any]]
        let text = try #require(decoded?.first?["text"] as? String)
        let refusal = try await double.ok(.POST, "/phone/scan", ["qr": text, "phone": phone, "tamper": tamper])
        #expect(refusal["refused"] as? Bool == true, "the phone hears of the refusal: \(refusal)")
        try await eventually("the refusal to be named") {
            try await status(base, setup.apiKey)["disconnect_reason"] as? String == "pairing_refused"
        }
        #expect(try await status(base, setup.apiKey)["status"] as? String == "disconnected")
        try await eventually("the disconnected webhook") { changes(receiver).last == "disconnected" }
        #expect((receiver.requests.last?.json["data"] as? [String: Any])?["reason"] as? String == "pairing_refused")
        #expect((try await double.state()["devices"] as? [Any] ?? [1]).isEmpty, "the double paired nothing")
        let (again, fresh) = try await api(base, setup.apiKey, .GET, "/api/qr")
        #expect(again == 200, "a new QR starts over: \(fresh)")
        await server.terminate()
        let store = try await DataFolder.openStore(at: setup.data)
        let paired = try await store.readProtocolState(session: SessionID(rawValue: setup.sessionID)) { try $0.pairedDevice() != nil }
        try await store.close()
        #expect(!paired, "nothing of the refused pairing is stored")
        await receiver.stop()
        await double.stop()
    }

    /// The server stops answering pings: after the keepalive's give-up time the engine connects
    /// again by itself, unannounced, and the session stays active.
    @Test func unansweredPingsMakeTheEngineReconnect() async throws {
        let double = try await WhatsAppServerDouble()
        let receiver = try await WebhookReceiver.start()
        let setup = try await setUp(receiver: receiver)
        defer { try? FileManager.default.removeItem(atPath: setup.data) }
        let server = try ServerProcess(
            arguments: [
                "serve", "--data", setup.data, "--port", "0", "--webhook-allow-private-addresses", "--log-level", "warning",
                "--wa-keepalive", "0.5,1,0.5,3",
            ] + double.serveArguments)
        let base = try await server.baseURL()
        let jid = try await link(base, setup, double)
        try await eventually("the connected webhook") { changes(receiver).contains("connected") }
        let announced = changes(receiver).count
        let before = try await logins(double, jid)
        try await double.ok(.POST, "/fault", ["jid": jid, "kind": "stop_answering_pings"])
        try await eventually("a new login after the pings went unanswered", within: .seconds(40)) { try await logins(double, jid) > before }
        try await eventually("connected again") { try await status(base, setup.apiKey)["connection"] as? String == "connected" }
        #expect(try await status(base, setup.apiKey)["status"] as? String == "active")
        #expect(changes(receiver).count == announced, "a reconnect is not announced: \(changes(receiver))")
        await server.terminate()
        await receiver.stop()
        await double.stop()
    }

    /// Shows the QR, lets the double's phone scan it and waits until the session is connected;
    /// returns the device's JID.
    func link(_ base: String, _ setup: Setup, _ double: WhatsAppServerDouble) async throws -> String {
        let (_, qr) = try await api(base, setup.apiKey, .GET, "/api/qr")
        let uri = try #require((qr["data"] as? [String: Any])?["qr_code"] as? String)
        let png = try #require(Data(base64Encoded: String(uri.dropFirst("data:image/png;base64,".count))))
        let decoded = try JSONSerialization.jsonObject(with: try await PythonPeer.check("qr_decode.py", input: png)) as? [[String: Any]]
        let scanned = try await double.ok(.POST, "/phone/scan", ["qr": try #require(decoded?.first?["text"] as? String), "phone": phone])
        try await eventually("the session to be connected") {
            try await status(base, setup.apiKey)["connection"] as? String == "connected"
        }
        return try #require(scanned["jid"] as? String)
    }

    /// Waits until the double sees the device logged in and active (its prekeys are up).
    func waitUntilActive(_ double: WhatsAppServerDouble, _ jid: String) async throws {
        try await eventually("the device to be logged in and active") {
            try await double.clients().contains {
                $0["jid"] as? String == jid && $0["state"] as? String == "logged-in" && $0["active"] as? Bool == true
            }
        }
    }

    func logins(_ double: WhatsAppServerDouble, _ jid: String) async throws -> Int {
        try await double.clients().filter { $0["jid"] as? String == jid && $0["payload"] as? String == "login" }.count
    }

    @Test func streamErrorsReconnectOrEndTheSessionAsDocumented() async throws {
        let double = try await WhatsAppServerDouble()
        let receiver = try await WebhookReceiver.start()
        let setup = try await setUp(receiver: receiver)
        defer { try? FileManager.default.removeItem(atPath: setup.data) }
        let server = try serve(setup, double)
        let base = try await server.baseURL()
        let jid = try await link(base, setup, double)
        try await eventually("the connected webhook") { changes(receiver).contains("connected") }
        let announced = changes(receiver).count

        // 503 and a cut socket: the engine logs in again by itself; the session stays active
        // throughout and nothing is announced.
        for kind in ["stream_error_503", "cut_socket"] {
            let before = try await logins(double, jid)
            try await double.ok(.POST, "/fault", ["jid": jid, "kind": kind])
            try await eventually("a new login after \(kind)") { try await logins(double, jid) > before }
            try await eventually("connected again after \(kind)") {
                try await status(base, setup.apiKey)["connection"] as? String == "connected"
            }
            #expect(try await status(base, setup.apiKey)["status"] as? String == "active")
        }
        try await Task.sleep(for: .milliseconds(500))
        #expect(changes(receiver).count == announced, "reconnects are not announced: \(changes(receiver))")

        // 405 at the next login: disconnected with the version named, the link kept.
        try await double.ok(.POST, "/fault", ["jid": jid, "kind": "failure_405"])
        try await double.ok(.POST, "/fault", ["jid": jid, "kind": "stream_error_515"])
        try await eventually("the outdated client to be named") {
            try await status(base, setup.apiKey)["disconnect_reason"] as? String == "outdated_client"
        }
        let outdated = try await status(base, setup.apiKey)
        #expect(outdated["status"] as? String == "disconnected")
        #expect(outdated["phone_number"] as? String == "+" + phone, "the link is kept for the next start")
        try await eventually("the disconnected webhook") { changes(receiver).last == "disconnected" }
        #expect((receiver.requests.last?.json["data"] as? [String: Any])?["reason"] as? String == "outdated_client")

        // A restart (as with a fixed --wa-version) logs in again with the kept device.
        await server.terminate()
        let restarted = try ServerProcess(
            arguments: [
                "serve", "--data", setup.data, "--port", "0", "--webhook-allow-private-addresses", "--log-level", "warning", "--wa-version",
                "2.3000.1045649367",
            ] + double.serveArguments)
        let restartedBase = try await restarted.baseURL()
        try await eventually("active again after the restart") {
            let now = try await status(restartedBase, setup.apiKey)
            return now["status"] as? String == "active" && now["connection"] as? String == "connected"
        }

        // Another client takes over the credentials: replaced, and this copy is forgotten.
        try await double.ok(.POST, "/fault", ["jid": jid, "kind": "replaced"])
        try await eventually("the replacement to be named") {
            try await status(restartedBase, setup.apiKey)["disconnect_reason"] as? String == "replaced"
        }
        #expect(try await status(restartedBase, setup.apiKey)["phone_number"] is NSNull)
        await restarted.terminate()
        let store = try await DataFolder.openStore(at: setup.data)
        let credentials = try await store.readProtocolState(session: SessionID(rawValue: setup.sessionID)) { try $0.credentials() }
        try await store.close()
        #expect(credentials == nil, "a replaced device's keys are wiped")
        await receiver.stop()
        await double.stop()
    }
}
