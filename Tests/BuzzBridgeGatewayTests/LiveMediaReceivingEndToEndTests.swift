import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import TestSupport
import Testing

/// Receiving media on a live session through BuzzBridge's public interface only: the built
/// executable, HTTP and a webhook receiver, against the server double's phones, whose files are
/// encrypted by an independent implementation (media_crypto.py) and kept on the double's fake CDN
/// behind its TLS and proxy.
@Suite("Live media receiving end to end against the server double", .serialized)
struct LiveMediaReceivingEndToEndTests {
    private let phone = "60123456789"
    private let tom = "60111222333"

    private struct Setup {
        let data: String
        let apiKey: String
    }

    private func setUp(receiver: WebhookReceiver) async throws -> Setup {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-live-media-\(UUID().uuidString)").path
        let created = try await BuzzBridgeExecutable.run(["sessions", "create", "--data", data, "--kind", "live", "--name", "OFYS Media"])
        #expect(created.status == 0, "\(created.output)")
        func field(_ name: String) throws -> String {
            let line = try #require(created.output.split(separator: "\n").first { $0.hasPrefix(name + ":") })
            return try #require(line.split(separator: " ").dropFirst().first.map(String.init))
        }
        let sessionID = try field("session_id")
        let webhook = try await BuzzBridgeExecutable.run([
            "webhooks", "set", "--data", data, "--session", sessionID, "--url", receiver.url, "--secret", "media_secret",
        ])
        #expect(webhook.status == 0, "\(webhook.output)")
        return Setup(data: data, apiKey: try field("api_key"))
    }

    /// `proxy` replaces the double's HTTP CONNECT proxy in `--wa-proxy`.
    private func serve(_ setup: Setup, _ double: WhatsAppServerDouble, proxy: String? = nil, extra: [String] = []) throws -> ServerProcess {
        var arguments = double.serveArguments
        if let proxy, let flag = arguments.firstIndex(of: "--wa-proxy") { arguments[flag + 1] = proxy }
        return try ServerProcess(
            arguments: [
                "serve", "--data", setup.data, "--port", "0", "--webhook-allow-private-addresses", "--webhook-retry-delays", "1",
                "--log-level", "warning",
            ] + arguments + extra, logs: true)
    }

    private func request(_ base: String, _ key: String, _ method: HTTPMethod, _ path: String) async throws -> (Int, HTTPHeaders, [UInt8]) {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        let response = try await TestGateway.client.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 1 << 26)
        return (Int(response.status.code), response.headers, Array(body.readableBytesView))
    }

    private func api(_ base: String, _ key: String, _ method: HTTPMethod, _ path: String) async throws -> (Int, [String: Any]) {
        let (status, _, body) = try await request(base, key, method, path)
        return (status, (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:])
    }

    private func eventually(_ what: String, within timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("timed out waiting for \(what)")
    }

    private func link(_ base: String, _ setup: Setup, _ double: WhatsAppServerDouble) async throws {
        let (_, qr) = try await api(base, setup.apiKey, .GET, "/api/qr")
        let uri = try #require((qr["data"] as? [String: Any])?["qr_code"] as? String)
        let png = try #require(Data(base64Encoded: String(uri.dropFirst("data:image/png;base64,".count))))
        let decoded = try JSONSerialization.jsonObject(with: try await PythonPeer.check("qr_decode.py", input: png)) as? [[String: Any]]
        let scanned = try await double.ok(.POST, "/phone/scan", ["qr": try #require(decoded?.first?["text"] as? String), "phone": phone])
        let jid = try #require(scanned["jid"] as? String)
        try await eventually("the device to be logged in and active") {
            try await double.clients().contains {
                $0["jid"] as? String == jid && $0["state"] as? String == "logged-in" && $0["active"] as? Bool == true
            }
        }
        try await double.ok(.POST, "/contacts/defaults", ["own": phone])
    }

    /// Tom's phone sends `media`; returns the double's record of the file (plaintext SHA-256, length, bytes).
    private func sendMedia(_ double: WhatsAppServerDouble, _ media: [String: Any]) async throws -> (id: String, file: [String: Any]) {
        let sent = try await double.ok(.POST, "/contacts/send", ["from": tom, "to": phone, "media": media])
        return (try #require(sent["id"] as? String), try #require(sent["media"] as? [String: Any]))
    }

    /// The `message.received` event's `data` for the message of `type` (one per delivery id).
    private func receivedEvents(_ receiver: WebhookReceiver, type: String) -> [[String: Any]] {
        var seen = Set<String>()
        return receiver.requests.compactMap { request -> [String: Any]? in
            guard request.json["event"] as? String == "message.received", let data = request.json["data"] as? [String: Any],
                data["message_type"] as? String == type, let delivery = request.header("X-BuzzBridge-Delivery"), seen.insert(delivery).inserted
            else { return nil }
            return data
        }
    }

    /// The message object of `id`; nil while the server cannot answer (starting after a restart).
    private func message(_ base: String, _ key: String, _ id: String) async throws -> [String: Any]? {
        let page = try await api(base, key, .GET, "/api/messages?limit=100").1
        let messages = (page["data"] as? [String: Any])?["messages"] as? [[String: Any]] ?? []
        return messages.first { $0["id"] as? String == id }
    }

    private func mediaStatus(_ base: String, _ key: String, _ id: String) async throws -> String? {
        (try await message(base, key, id)?["media"] as? [String: Any])?["status"] as? String
    }

    private static func bytes(hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex, let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex) {
            bytes.append(UInt8(hex[index..<next], radix: 16) ?? 0)
            index = next
        }
        return bytes
    }

    private static func hex(_ bytes: [UInt8]) -> String { SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined() }

    /// Waits for the `message.received` of `type`, then for the file to be ready, and checks the
    /// served bytes are the phone's exact plaintext; returns the message id and its message object.
    private func expectDelivered(
        _ base: String, _ setup: Setup, _ receiver: WebhookReceiver, type: String, file: [String: Any]
    ) async throws -> (id: String, message: [String: Any]) {
        try await eventually("the \(type) at the webhook") { !receivedEvents(receiver, type: type).isEmpty }
        let event = try #require(receivedEvents(receiver, type: type).first)
        let id = try #require(event["message_id"] as? String)
        #expect(event["has_media"] as? Bool == true)
        #expect(event["from"] as? String == "+" + tom)
        // The event never waits for the file: it says where the file stands when the message was stored.
        #expect(event["media_status"] as? String == "pending")
        #expect(event["media_url"] as? String == "/api/media/\(id)")
        try await eventually("the \(type) file to be ready") { try await mediaStatus(base, setup.apiKey, id) == "ready" }
        let (status, headers, body) = try await request(base, setup.apiKey, .GET, "/api/media/\(id)")
        #expect(status == 200)
        #expect(body.count == file["length"] as? Int)
        #expect(Self.hex(body) == file["sha256"] as? String)
        if let data = file["data"] as? String { #expect(body == Array(Data(base64Encoded: data) ?? Data())) }
        #expect(headers.first(name: "content-type") == file["mimetype"] as? String)
        return (id, try #require(try await message(base, setup.apiKey, id)))
    }

    @Test func anImageAPDFAndAVoiceNoteArriveWithTheirExactBytes() async throws {
        let double = try await WhatsAppServerDouble()
        let receiver = try await WebhookReceiver.start()
        let setup = try await setUp(receiver: receiver)
        defer { try? FileManager.default.removeItem(atPath: setup.data) }
        let server = try serve(setup, double)
        let base = try await server.baseURL()
        try await link(base, setup, double)

        let image = try await sendMedia(double, ["type": "image", "caption": "my passport", "width": 64, "height": 48])
        let pdf = try await sendMedia(double, ["type": "document", "fileName": "ticket.pdf"])
        let voice = try await sendMedia(double, ["type": "audio", "ptt": true, "seconds": 2])

        let (_, imageMessage) = try await expectDelivered(base, setup, receiver, type: "image", file: image.file)
        #expect(imageMessage["message"] as? String == "my passport")
        let imageMedia = try #require(imageMessage["media"] as? [String: Any])
        #expect(imageMedia["width"] as? Int == 64 && imageMedia["height"] as? Int == 48)
        #expect(imageMedia["mime_type"] as? String == "image/jpeg" && imageMedia["size"] as? Int == image.file["length"] as? Int)

        let (pdfID, pdfMessage) = try await expectDelivered(base, setup, receiver, type: "document", file: pdf.file)
        let pdfMedia = try #require(pdfMessage["media"] as? [String: Any])
        #expect(pdfMedia["filename"] as? String == "ticket.pdf" && pdfMedia["mime_type"] as? String == "application/pdf")
        let (_, pdfHeaders, _) = try await request(base, setup.apiKey, .GET, "/api/media/\(pdfID)")
        #expect(pdfHeaders.first(name: "content-disposition")?.contains("ticket.pdf") == true)

        let (_, voiceMessage) = try await expectDelivered(base, setup, receiver, type: "audio", file: voice.file)
        #expect((voiceMessage["media"] as? [String: Any])?["mime_type"] as? String == voice.file["mimetype"] as? String)

        // Fetched through the double's proxy from its CDN (one media_conn, cached), one download per file,
        // each as whatsmeow asks: the first media host, the direct path, hash, mms-type and __wa-mms, Origin.
        let cdn = try await double.ok(.GET, "/cdn")
        #expect(cdn["mediaConnQueries"] as? Int == 1)
        let downloads = cdn["downloads"] as? [[String: Any]] ?? []
        for (file, mmsType) in [(image.file, "image"), (pdf.file, "document"), (voice.file, "audio")] {
            let path = try #require(URL(string: "https://x" + (file["directPath"] as? String ?? ""))?.path)
            let fetched = downloads.filter { $0["path"] as? String == path && $0["by"] == nil }
            #expect(fetched.count == 1, "\(mmsType): \(fetched)")
            let query = fetched.first?["query"] as? [String: Any] ?? [:]
            let encHash = Data(Self.bytes(hex: file["fileEncSha256"] as? String ?? "")).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            #expect(query["hash"] as? String == encHash && query["mms-type"] as? String == mmsType && query["__wa-mms"] as? String == "")
            #expect(fetched.first?["host"] as? String == "mmg.whatsapp.net" && fetched.first?["status"] as? Int == 200)
            #expect(fetched.first?["origin"] as? String == "https://web.whatsapp.com")
        }
        await server.terminate()
    }

    /// The media hosts are reached through the session's proxy with its credentials: a SOCKS5 proxy
    /// that requires them refuses a client that drops them (the old downloader did).
    @Test func aFileArrivesThroughASOCKS5ProxyThatRequiresCredentials() async throws {
        let double = try await WhatsAppServerDouble()
        try await double.ok(.POST, "/proxy", ["socksRequireAuth": true])
        let receiver = try await WebhookReceiver.start()
        let setup = try await setUp(receiver: receiver)
        defer { try? FileManager.default.removeItem(atPath: setup.data) }
        let server = try serve(setup, double, proxy: "socks5://user:secret@127.0.0.1:\(double.endpoints.socksPort)")
        let base = try await server.baseURL()
        try await link(base, setup, double)

        let pdf = try await sendMedia(double, ["type": "document", "fileName": "ticket.pdf", "size": 200_000])
        _ = try await expectDelivered(base, setup, receiver, type: "document", file: pdf.file)
        let tunnels = try await double.ok(.GET, "/clients")["tunnels"] as? [[String: Any]] ?? []
        #expect(tunnels.contains { $0["proxy"] as? String == "socks5" && $0["target"] as? String == "mmg.whatsapp.net:443" }, "\(tunnels)")
        #expect(!tunnels.contains { $0["proxy"] as? String != "socks5" }, "\(tunnels)")
        await server.terminate()
    }

    @Test func aTamperedFileIsFailedAndNeverServed() async throws {
        let double = try await WhatsAppServerDouble()
        let receiver = try await WebhookReceiver.start()
        let setup = try await setUp(receiver: receiver)
        defer { try? FileManager.default.removeItem(atPath: setup.data) }
        let server = try serve(setup, double, extra: ["--media-max-mb", "1"])
        let base = try await server.baseURL()
        try await link(base, setup, double)

        // A ciphertext byte flipped after the MAC was made (the encrypted hash matches): MAC mismatch.
        _ = try await sendMedia(double, ["type": "image", "caption": "tampered", "tamper": "hmac"])
        try await eventually("the tampered image at the webhook") { !receivedEvents(receiver, type: "image").isEmpty }
        let id = try #require(receivedEvents(receiver, type: "image").first?["message_id"] as? String)
        try await eventually("the tampered image to be failed") { try await mediaStatus(base, setup.apiKey, id) == "failed" }
        let (status, answer) = try await api(base, setup.apiKey, .GET, "/api/media/\(id)")
        #expect(status == 404)
        #expect(answer["success"] as? Bool == false)
        #expect((answer["error"] as? [String: Any])?["code"] as? String == "NOT_FOUND")
        #expect(((answer["error"] as? [String: Any])?["details"] as? [String: Any])?["media_status"] != nil)

        // A file gone from the CDN (404) is failed too, and a good file after them still arrives.
        _ = try await sendMedia(double, ["type": "document", "fileName": "gone.pdf", "tamper": "missing"])
        try await eventually("the missing document at the webhook") { !receivedEvents(receiver, type: "document").isEmpty }
        let goneID = try #require(receivedEvents(receiver, type: "document").first?["message_id"] as? String)
        try await eventually("the missing document to be failed") { try await mediaStatus(base, setup.apiKey, goneID) == "failed" }
        // Over --media-max-mb: failed without a byte fetched.
        _ = try await sendMedia(double, ["type": "video", "size": 1_500_000])
        try await eventually("the large video at the webhook") { !receivedEvents(receiver, type: "video").isEmpty }
        let largeID = try #require(receivedEvents(receiver, type: "video").first?["message_id"] as? String)
        try await eventually("the large video to be failed") { try await mediaStatus(base, setup.apiKey, largeID) == "failed" }

        // Both media hosts answer 503 once: the download is retried after its backoff and the file arrives.
        try await double.ok(.POST, "/cdn/fault", ["status": 503, "count": 2])
        let good = try await sendMedia(double, ["type": "audio", "ptt": true])
        _ = try await expectDelivered(base, setup, receiver, type: "audio", file: good.file)
        let path = try #require(URL(string: "https://x" + (good.file["directPath"] as? String ?? ""))?.path)
        let cdn = try await double.ok(.GET, "/cdn")
        // Records with "by" are the account's own phones fetching their copies; the rest are BuzzBridge's.
        let statuses = (cdn["downloads"] as? [[String: Any]] ?? []).filter { $0["path"] as? String == path && $0["by"] == nil }
            .compactMap { $0["status"] as? Int }
        #expect(statuses == [503, 503, 200], "\(cdn["downloads"] ?? [])")
        let largePath = (cdn["blobs"] as? [[String: Any]] ?? []).first { $0["length"] as? Int ?? 0 > 1_500_000 }?["directPath"] as? String
        #expect(largePath != nil)
        let largeFetches = (cdn["downloads"] as? [[String: Any]] ?? []).filter {
            $0["by"] == nil && largePath?.hasPrefix($0["path"] as? String ?? "-") == true
        }
        #expect(largeFetches.isEmpty, "\(largeFetches)")
        await server.terminate()
    }

    @Test func aDownloadCutByACrashResumesAfterTheRestart() async throws {
        let double = try await WhatsAppServerDouble()
        let receiver = try await WebhookReceiver.start()
        let setup = try await setUp(receiver: receiver)
        defer { try? FileManager.default.removeItem(atPath: setup.data) }
        var server = try serve(setup, double)
        var base = try await server.baseURL()
        try await link(base, setup, double)

        // The first download of the file crawls, so the crash comes while it runs.
        try await double.ok(.POST, "/cdn/fault", ["kind": "slow", "seconds": 60])
        let video = try await sendMedia(double, ["type": "document", "fileName": "itinerary.pdf", "size": 300_000])
        try await eventually("the document at the webhook") { !receivedEvents(receiver, type: "document").isEmpty }
        let id = try #require(receivedEvents(receiver, type: "document").first?["message_id"] as? String)
        try await eventually("the download to be running") { try await mediaStatus(base, setup.apiKey, id) == "downloading" }
        // Killed once the CDN is sending the file (slowly), so the crash cuts a transfer in progress.
        let path = try #require(URL(string: "https://x" + (video.file["directPath"] as? String ?? ""))?.path)
        try await eventually("the CDN to be sending the file") {
            (try await double.ok(.GET, "/cdn")["downloads"] as? [[String: Any]] ?? []).contains {
                $0["path"] as? String == path && $0["by"] == nil && $0["fault"] as? String == "slow"
            }
        }
        await server.kill()

        server = try serve(setup, double)
        base = try await server.baseURL()
        try await eventually("the resumed download to finish") { try await mediaStatus(base, setup.apiKey, id) == "ready" }
        let (status, _, body) = try await request(base, setup.apiKey, .GET, "/api/media/\(id)")
        #expect(status == 200)
        #expect(body.count == 300_000 && Self.hex(body) == video.file["sha256"] as? String)
        // Announced once: the restart does not repeat message.received.
        #expect(receivedEvents(receiver, type: "document").count == 1)
        await server.terminate()
    }

    @Test func downloadsBeyondTheConcurrencyLimitWaitForAFreeSlot() async throws {
        let double = try await WhatsAppServerDouble()
        let receiver = try await WebhookReceiver.start()
        let setup = try await setUp(receiver: receiver)
        defer { try? FileManager.default.removeItem(atPath: setup.data) }
        let server = try serve(setup, double, extra: ["--media-download-concurrency", "1"])
        let base = try await server.baseURL()
        try await link(base, setup, double)

        // The first file crawls for 3 s; with one download at a time the second is requested only after
        // it (with the default of 4 both are requested at once, and this fails).
        try await double.ok(.POST, "/cdn/fault", ["kind": "slow", "seconds": 3])
        let first = try await sendMedia(double, ["type": "document", "fileName": "first.pdf"])
        let second = try await sendMedia(double, ["type": "image", "caption": "second"])
        _ = try await expectDelivered(base, setup, receiver, type: "document", file: first.file)
        _ = try await expectDelivered(base, setup, receiver, type: "image", file: second.file)
        let requests = (try await double.ok(.GET, "/cdn")["downloads"] as? [[String: Any]] ?? []).filter { $0["by"] == nil }
        let times = requests.compactMap { $0["t"] as? Double }.sorted()
        #expect(times.count == 2)
        #expect(requests.contains { $0["fault"] as? String == "slow" })
        if times.count == 2 { #expect(times[1] - times[0] >= 2.5, "requested \(times[1] - times[0]) s apart") }
        await server.terminate()
    }
}
