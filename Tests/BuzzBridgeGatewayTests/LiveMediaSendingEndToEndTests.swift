import Foundation
import NIOHTTP1
import Testing

/// Sending media through BuzzBridge's public interface only (the executable, HTTP, a webhook
/// receiver) to the server double's python-axolotl phones, which download each file from the
/// double's fake CDN, verify and decrypt it.
extension LiveEngineEndToEndTests {
    /// A real first Ogg page (RFC 3533) holding an Opus identification header (RFC 7845), then
    /// opaque audio bytes: what a voice note starts with.
    static func voiceNote() -> [UInt8] {
        let opusHead = Array("OpusHead".utf8) + [1, 1, 0x38, 0x01, 0x80, 0xBB, 0, 0, 0, 0, 0]
        var page = Array("OggS".utf8) + [0, 0x02] + [UInt8](repeating: 0, count: 8) + [0x42, 0x42, 0, 0] + [0, 0, 0, 0] + [0, 0, 0, 0]
        page += [1, UInt8(opusHead.count)] + opusHead
        return page + SampleMedia.random(6000)
    }

    func sendMedia(_ base: String, _ setup: Setup, _ phone: String, _ media: [String: Any]) async throws -> (Int, [String: Any]) {
        let json = String(decoding: try JSONSerialization.data(withJSONObject: ["phone": phone, "media": media]), as: UTF8.self)
        return try await api(base, setup.apiKey, .POST, "/api/messages/send", json)
    }

    /// The entry of `phone:device`'s inbox whose media decrypted to a file with SHA-256 `sha256`.
    func mediaEntry(_ double: WhatsAppServerDouble, _ phone: String, device: Int, sha256: String) async throws -> [String: Any] {
        var found: [String: Any] = [:]
        try await eventually("\(phone):\(device) to receive the file \(sha256.prefix(12))") {
            let entries = try await inbox(double, phone, device: device)
            guard let entry = entries.last(where: { ($0["media"] as? [String: Any])?["sha256"] as? String == sha256 }) else { return false }
            found = entry
            return true
        }
        return found
    }

    @Test func anImageAPDFAVoiceNoteAndAVideoReachThePhonesByteForByte() async throws {
        let double = try await WhatsAppServerDouble()
        try await double.ok(.POST, "/contacts/defaults", ["own": phone])
        let receiver = try await WebhookReceiver.start()
        let setup = try await setUp(receiver: receiver, events: "session.status,message.status")
        defer { try? FileManager.default.removeItem(atPath: setup.data) }
        let server = try serve(setup, double)
        let base = try await server.baseURL()
        _ = try await link(base, setup, double)

        struct Case {
            let type: String
            let bytes: [UInt8]
            let extra: [String: Any]
            let mediatype: String
            let mimetype: String
        }
        let cases = [
            Case(
                type: "image", bytes: SampleMedia.jpeg(width: 640, height: 480, padding: 300_000), extra: ["caption": "Your boarding pass"],
                mediatype: "image", mimetype: "image/jpeg"),
            Case(
                type: "document", bytes: SampleMedia.pdf(padding: 700_000), extra: ["filename": "itinerary.pdf", "caption": "Itinerary"],
                mediatype: "document", mimetype: "application/pdf"),
            Case(type: "audio", bytes: Self.voiceNote(), extra: [:], mediatype: "ptt", mimetype: "audio/ogg; codecs=opus"),
            Case(
                type: "video", bytes: SampleMedia.mp4(padding: 400_000), extra: ["caption": "The trail at dawn"], mediatype: "video",
                mimetype: "video/mp4"),
        ]
        for file in cases {
            var media: [String: Any] = ["type": file.type, "data": Data(file.bytes).base64EncodedString()]
            media.merge(file.extra) { $1 }
            let (status, answer) = try await sendMedia(base, setup, "+\(Self.tom)", media)
            #expect(status == 200, "\(file.type): \(answer)")
            let data = try #require(answer["data"] as? [String: Any], "\(answer)")
            #expect(data["status"] as? String == "sent")
            let messageID = try #require(data["message_id"] as? String)

            // The stanza's enc nodes carry the media type; both of Tom's devices and the
            // account's own phone download, verify and decrypt exactly the bytes sent.
            let cdn = try await double.ok(.GET, "/cdn")
            let upload = try #require((cdn["uploads"] as? [[String: Any]])?.last, "\(cdn)")
            #expect(upload["status"] as? Int == 200 && upload["host"] as? String == "mmg.whatsapp.net", "\(upload)")
            #expect(upload["origin"] as? String == "https://web.whatsapp.com", "\(upload)")
            let mmsType = (upload["path"] as? String)?.split(separator: "/").dropFirst().first.map(String.init)
            #expect(mmsType == (file.type == "audio" ? "audio" : file.type), "\(upload)")
            let digest = SampleMedia.sha256Hex(file.bytes)
            var ids: Set<String> = []
            for (who, device) in [(Self.tom, 0), (Self.tom, 2), (phone, 0)] {
                let entry = try await mediaEntry(double, who, device: device, sha256: digest)
                ids.insert(entry["id"] as? String ?? "")
                let received = try #require(entry["media"] as? [String: Any], "\(entry)")
                #expect(received["ok"] as? Bool == true, "\(file.type) on \(who):\(device): \(received)")
                #expect(received["length"] as? Int == file.bytes.count && received["lengthMatches"] as? Bool == true, "\(received)")
                #expect(received["missingFields"] as? [String] == [], "\(received)")
                #expect(received["mimetype"] as? String == file.mimetype, "\(received)")
                #expect((entry["attrs"] as? [String: Any])?["type"] as? String == "media", "\(entry)")
                #expect(entry["encMediaTypes"] as? [String] == [file.mediatype], "\(entry)")
                #expect((received["ptt"] as? Bool ?? false) == (file.mediatype == "ptt"), "\(received)")
                if file.type == "document" {
                    #expect(received["fileName"] as? String == "itinerary.pdf" && received["caption"] as? String == "Itinerary", "\(received)")
                }
                if file.type == "video" {
                    #expect(received["caption"] as? String == "The trail at dawn", "\(received)")
                }
                if file.type == "image" {
                    #expect(received["width"] as? Int == 640 && received["height"] as? Int == 480, "\(received)")
                    #expect(received["caption"] as? String == "Your boarding pass", "\(received)")
                }
            }
            #expect(ids.count == 1, "one message id on every device: \(ids)")
            let whatsAppID = try #require(ids.first)
            let fetched = try await double.ok(.GET, "/contacts/media?device=\(Self.tom):2&id=\(whatsAppID)")
            #expect(Data(base64Encoded: fetched["data"] as? String ?? "") == Data(file.bytes), "the phone decrypted the exact bytes")

            // Delivered by the phones' receipts, then read: sent → delivered → read at the webhook.
            try await eventually("delivered") { statuses(receiver, messageID).contains("delivered") }
            try await double.ok(.POST, "/contacts/receipt", ["from": Self.tom, "ids": [whatsAppID], "type": "read"])
            try await eventually("read") { statuses(receiver, messageID).contains("read") }
            #expect(statuses(receiver, messageID) == ["sent", "delivered", "read"], "\(statuses(receiver, messageID))")
        }
        #expect((try await double.ok(.GET, "/cdn")["mediaConnQueries"] as? Int) == 1, "one media_conn answer serves every upload while valid")

        await server.terminate()
        await receiver.stop()
        await double.stop()
    }

    @Test func anUploadTheMediaHostRefusesFailsTheSendAndTheMessage() async throws {
        let double = try await WhatsAppServerDouble()
        try await double.ok(.POST, "/contacts/defaults", ["own": phone])
        let receiver = try await WebhookReceiver.start()
        let setup = try await setUp(receiver: receiver, events: "session.status,message.status")
        defer { try? FileManager.default.removeItem(atPath: setup.data) }
        let server = try serve(setup, double)
        let base = try await server.baseURL()
        _ = try await link(base, setup, double)
        try await double.ok(.POST, "/cdn/fault", ["op": "upload", "status": 500])

        let image = SampleMedia.jpeg()
        let (status, answer) = try await sendMedia(base, setup, "+\(Self.tom)", ["type": "image", "data": Data(image).base64EncodedString()])
        #expect(status == 503, "\(answer)")
        let error = try #require(answer["error"] as? [String: Any], "\(answer)")
        #expect(error["code"] as? String == "SERVICE_UNAVAILABLE", "\(answer)")
        let message = error["message"] as? String ?? ""
        #expect(message.contains("refused the file upload") && message.contains("500") && message.contains("nothing was sent"), "\(message)")

        let (_, listed) = try await api(base, setup.apiKey, .GET, "/api/messages?phone=%2B\(Self.tom)")
        let messages = ((listed["data"] as? [String: Any])?["messages"] as? [[String: Any]]) ?? []
        #expect(messages.count == 1 && messages.first?["status"] as? String == "failed", "\(listed)")
        let id = try #require(messages.first?["id"] as? String)
        try await Task.sleep(for: .seconds(1))
        #expect(statuses(receiver, id).isEmpty, "never announced as sent: \(statuses(receiver, id))")
        let tomsInbox = try await inbox(double, Self.tom, device: 0)
        #expect(tomsInbox.isEmpty, "no message reached the phone: \(tomsInbox)")
        let uploads = try await double.ok(.GET, "/cdn")["uploads"] as? [[String: Any]] ?? []
        #expect(uploads.count == 1 && uploads.first?["status"] as? Int == 500, "\(uploads)")

        // The next send (no fault left) goes through. Tom's second device first answers it with a
        // retry receipt: the message encrypted again for it alone still says it is an image.
        try await double.ok(.POST, "/contacts/fail-next", ["device": "\(Self.tom):2", "count": 1])
        let (again, sent) = try await sendMedia(base, setup, "+\(Self.tom)", ["type": "image", "data": Data(image).base64EncodedString()])
        #expect(again == 200, "\(sent)")
        let resent = try await mediaEntry(double, Self.tom, device: 2, sha256: SampleMedia.sha256Hex(image))
        #expect((resent["count"] as? Int ?? 0) >= 1 && resent["encMediaTypes"] as? [String] == ["image"], "\(resent)")
        #expect((resent["media"] as? [String: Any])?["ok"] as? Bool == true, "\(resent)")

        await server.terminate()
        await receiver.stop()
        await double.stop()
    }
}
