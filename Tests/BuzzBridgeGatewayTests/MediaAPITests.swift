import AsyncHTTPClient
import BuzzBridgeGateway
import Foundation
import NIOCore
import Testing

/// Media messages over real HTTP: sends by data, by URL and by upload, the sandbox's echo,
/// `GET /api/media/{id}` with ranges and signed links, who may read a file, and bad input.
@Suite("Media messages", .serialized)
struct MediaAPITests {
    static let contact = "+60123456789"

    private static func sendJSON(
        _ gateway: TestGateway, to phone: String = contact, media: [String: Any], message: String? = nil, auth: TestGateway.Auth = .apiKey
    )
        async throws -> TestGateway.Reply
    {
        var body: [String: Any] = ["phone": phone, "media": media]
        if let message { body["message"] = message }
        return try await gateway.post("/api/messages/send", TestGateway.json(body), auth: auth)
    }

    private static func multipart(
        _ gateway: TestGateway, path: String = "/api/messages/send", fields: [(String, String)], file: [UInt8]?, fileName: String = "upload.bin",
        partType: String = "application/octet-stream"
    ) async throws -> TestGateway.Reply {
        let boundary = "----buzzbridge-test-\(UUID().uuidString)"
        var body: [UInt8] = []
        for (name, value) in fields {
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
        }
        if let file {
            body += Array(
                "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(fileName)\"\r\nContent-Type: \(partType)\r\n\r\n".utf8)
            body += file + Array("\r\n".utf8)
        }
        body += Array("--\(boundary)--\r\n".utf8)
        var request = HTTPClientRequest(url: gateway.baseURL + path)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(gateway.apiKey)")
        request.headers.add(name: "Content-Type", value: "multipart/form-data; boundary=\(boundary)")
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await TestGateway.client.execute(request, timeout: .seconds(30))
        let buffer = try await response.body.collect(upTo: 1 << 24)
        return TestGateway.Reply(
            status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) }, body: Data(buffer.readableBytesView))
    }

    private static func header(_ reply: TestGateway.Reply, _ name: String) -> String? {
        reply.headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    private static func message(_ gateway: TestGateway, id: String, auth: TestGateway.Auth = .apiKey) async throws -> [String: Any]? {
        let list = try await gateway.get("/api/messages?limit=100", auth: auth)
        return (try list.data["messages"] as? [[String: Any]])?.first { $0["id"] as? String == id }
    }

    private static func sentID(_ reply: TestGateway.Reply) throws -> String {
        guard reply.status == 200, let id = try reply.data["message_id"] as? String else { throw TestFailure("send: \(reply.status) \(reply.text)") }
        return id
    }

    /// One file of each type, with the type served back.
    static let everyType: [(type: String, bytes: [UInt8], served: String)] = [
        ("image", SampleMedia.jpeg(), "image/jpeg"), ("image", SampleMedia.png(), "image/png"), ("video", SampleMedia.mp4(), "video/mp4"),
        ("audio", SampleMedia.oggOpus(), "audio/ogg; codecs=opus"), ("document", SampleMedia.pdf(), "application/pdf"),
    ]

    @Test("each type by URL and by multipart upload is served back byte for byte")
    func everyTypeByURLAndUpload() async throws {
        var paths: [String: [UInt8]] = [:]
        for (index, file) in Self.everyType.enumerated() { paths["/file-\(index)"] = file.bytes }
        let files = try await FileServer.start(files: paths)
        let gateway = try await TestGateway.start()
        try await gateway.connect()
        /// Names the step that failed (a request that timed out once in a full run, in no known step).
        func step<T>(_ name: String, _ body: () async throws -> T) async throws -> T {
            do { return try await body() } catch { throw TestFailure("\(name): \(error)") }
        }
        for (index, file) in Self.everyType.enumerated() {
            let byURL = try await step("\(file.type) by URL") {
                try Self.sentID(try await Self.sendJSON(gateway, media: ["type": file.type, "url": files.url("/file-\(index)")]))
            }
            let byUpload = try await step("\(file.type) by upload") {
                try Self.sentID(try await Self.multipart(gateway, fields: [("phone", Self.contact), ("type", file.type)], file: file.bytes))
            }
            for id in [byURL, byUpload] {
                let served = try await step("\(file.type) served") { try await gateway.get("/api/media/\(id)") }
                #expect(Array(served.body) == file.bytes, "\(file.type) \(id)")
                #expect(Self.header(served, "Content-Type") == file.served)
                #expect(try await Self.message(gateway, id: id)?["message_type"] as? String == file.type)
            }
        }
        try await gateway.discard()
        await files.stop()
    }

    @Test("an Idempotency-Key replays a media send, and refuses the same key with another file")
    func idempotentMediaSends() async throws {
        let gateway = try await TestGateway.start()
        try await gateway.connect()
        func send(_ bytes: [UInt8]) async throws -> TestGateway.Reply {
            let body = TestGateway.json(["phone": Self.contact, "media": ["type": "image", "data": Data(bytes).base64EncodedString()]])
            return try await gateway.request(.POST, "/api/messages/send", body: body, headers: [("Idempotency-Key", "media-key-1")])
        }
        let image = SampleMedia.jpeg()
        let first = try await send(image)
        let again = try await send(image)
        #expect(try Self.sentID(first) == (try Self.sentID(again)))
        #expect(Self.header(again, "Idempotent-Replayed") == "true")
        let other = try await send(SampleMedia.jpeg())
        #expect(other.status == 409 && other.errorCode == "IDEMPOTENCY_KEY_REUSED", "\(other.text)")
        let total = try await gateway.get("/api/messages").data["pagination"] as? [String: Any]
        #expect(total?["total"] as? Int == 1)
        try await gateway.discard()
    }

    @Test("with --public-url, media_url and signed links are absolute")
    func publicBaseURL() async throws {
        let gateway = try await TestGateway.start(media: MediaConfiguration(publicBaseURL: "https://bridge.example.com"))
        try await gateway.connect()
        let id = try Self.sentID(
            try await Self.sendJSON(gateway, media: ["type": "document", "data": Data(SampleMedia.pdf()).base64EncodedString()]))
        #expect(try await Self.message(gateway, id: id)?["media_url"] as? String == "https://bridge.example.com/api/media/\(id)")
        let link = try #require(try await gateway.post("/api/media/\(id)/link").data["url"] as? String)
        #expect(link.hasPrefix("https://bridge.example.com/api/media/\(id)?expires="))
        try await gateway.discard()
    }

    @Test("each type sent as base64 data is stored, listed with its facts and served byte for byte")
    func sendEachTypeByData() async throws {
        let gateway = try await TestGateway.start()
        try await gateway.connect()
        let files: [(type: String, bytes: [UInt8], mime: String?, served: String, name: String?)] = [
            ("image", SampleMedia.jpeg(width: 640, height: 480), nil, "image/jpeg", nil),
            ("image", SampleMedia.png(width: 32, height: 16), "image/png", "image/png", "chart.png"),
            ("video", SampleMedia.mp4(), "video/mp4", "video/mp4", nil),
            ("audio", SampleMedia.oggOpus(), nil, "audio/ogg; codecs=opus", nil),
            ("document", SampleMedia.pdf(), "application/pdf", "application/pdf", "itinerary.pdf"),
        ]
        for file in files {
            var media: [String: Any] = ["type": file.type, "data": Data(file.bytes).base64EncodedString()]
            if let mime = file.mime { media["mime_type"] = mime }
            if let name = file.name { media["filename"] = name }
            media["caption"] = "a \(file.type)"
            let id = try Self.sentID(try await Self.sendJSON(gateway, media: media))
            let listed = try #require(try await Self.message(gateway, id: id))
            #expect(listed["message_type"] as? String == file.type)
            #expect(listed["has_media"] as? Bool == true)
            #expect(listed["media_url"] as? String == "/api/media/\(id)")
            #expect(listed["message"] as? String == "a \(file.type)")
            let facts = try #require(listed["media"] as? [String: Any])
            #expect(facts["status"] as? String == "ready")
            #expect(facts["size"] as? Int == file.bytes.count)
            #expect(facts["mime_type"] as? String == file.served)

            let served = try await gateway.get("/api/media/\(id)")
            #expect(served.status == 200)
            #expect(Array(served.body) == file.bytes, "\(file.type) bytes")
            #expect(Self.header(served, "Content-Type") == file.served)
            #expect(Self.header(served, "Content-Length") == "\(file.bytes.count)")
            #expect(Self.header(served, "Accept-Ranges") == "bytes")
            let disposition = try #require(Self.header(served, "Content-Disposition"))
            #expect(disposition.hasPrefix("attachment; filename=\""))
            if let name = file.name { #expect(disposition.contains(name)) }
        }
        // Image sizes come from the files' own headers.
        let page = try await gateway.get("/api/messages?limit=100")
        let images = (try page.data["messages"] as? [[String: Any]] ?? []).filter { $0["message_type"] as? String == "image" }
        let sizes = Set(images.compactMap { ($0["media"] as? [String: Any]).map { "\($0["width"] ?? "-")x\($0["height"] ?? "-")" } })
        #expect(sizes == ["640x480", "32x16"])
        try await gateway.discard()
    }

    @Test("a file fetched from media.url (a local server, private addresses allowed in tests) and a failing URL")
    func sendByURL() async throws {
        let photo = SampleMedia.jpeg()
        let files = try await FileServer.start(files: ["/photo.jpg": photo, "/paper.pdf": SampleMedia.pdf()], slowDelay: .seconds(3))
        let gateway = try await TestGateway.start(media: MediaConfiguration(fetchTimeout: .seconds(1)))
        try await gateway.connect()
        let id = try Self.sentID(try await Self.sendJSON(gateway, media: ["type": "image", "url": files.url("/photo.jpg")], message: "by url"))
        #expect(Array(try await gateway.get("/api/media/\(id)").body) == photo)
        let doc = try Self.sentID(
            try await Self.sendJSON(gateway, media: ["type": "document", "url": files.url("/paper.pdf"), "filename": "paper.pdf"]))
        #expect(try await gateway.get("/api/media/\(doc)").status == 200)

        let missing = try await Self.sendJSON(gateway, media: ["type": "image", "url": files.url("/missing.jpg")])
        #expect(missing.errorCode == "VALIDATION_ERROR")
        #expect(missing.errorDetails["media.url"]?.contains("HTTP 404") == true)
        let slow = try await Self.sendJSON(gateway, media: ["type": "image", "url": files.url("/slow/photo.jpg")])
        #expect(slow.errorCode == "VALIDATION_ERROR")
        #expect(slow.errorDetails["media.url"]?.contains("within") == true, "\(slow.text)")
        let unreachable = try await Self.sendJSON(
            gateway, media: ["type": "image", "url": "http://127.0.0.1:\(try await WebhookReceiver.unusedPort())/x.jpg"])
        #expect(unreachable.errorDetails["media.url"]?.hasPrefix("could not be fetched") == true)
        let ftp = try await Self.sendJSON(gateway, media: ["type": "image", "url": "ftp://127.0.0.1/x.jpg"])
        #expect(ftp.errorDetails["media.url"] == "must use http or https")
        try await gateway.discard()

        // The webhooks' SSRF guard, on as in production: a private address is refused, unfetched.
        var guarded = WebhookConfiguration.fastForTests
        guarded.allowPrivateAddresses = false
        let production = try await TestGateway.start(webhooks: guarded)
        try await production.connect()
        for url in [files.url("/photo.jpg"), "http://localhost:\(files.port)/photo.jpg", "http://[::1]:\(files.port)/photo.jpg"] {
            let refused = try await Self.sendJSON(production, media: ["type": "image", "url": url])
            #expect(refused.errorCode == "VALIDATION_ERROR")
            #expect(refused.errorDetails["media.url"]?.contains("non-public address") == true, "\(url): \(refused.text)")
        }
        try await production.discard()
        await files.stop()
    }

    @Test("multipart/form-data: the file part streamed in, fields beside it; bad forms named")
    func sendByMultipart() async throws {
        let gateway = try await TestGateway.start()
        try await gateway.connect()
        let pdf = SampleMedia.pdf(padding: 200_000)
        let reply = try await Self.multipart(
            gateway, fields: [("phone", Self.contact), ("type", "document"), ("caption", "your ticket")], file: pdf, fileName: "ticket.pdf",
            partType: "application/pdf")
        let id = try Self.sentID(reply)
        let served = try await gateway.get("/api/media/\(id)")
        #expect(Array(served.body) == pdf)
        #expect(Self.header(served, "Content-Type") == "application/pdf")
        #expect(Self.header(served, "Content-Disposition")?.contains("ticket.pdf") == true)
        #expect(try await Self.message(gateway, id: id)?["message"] as? String == "your ticket")

        let image = SampleMedia.jpeg()
        let photo = try Self.sentID(
            try await Self.multipart(gateway, fields: [("phone", Self.contact), ("type", "image")], file: image, fileName: "p.jpg"))
        #expect(Array(try await gateway.get("/api/media/\(photo)").body) == image)

        let noType = try await Self.multipart(gateway, fields: [("phone", Self.contact)], file: image)
        #expect(noType.errorDetails.keys.contains("type"), "\(noType.text)")
        let noFile = try await Self.multipart(gateway, fields: [("phone", Self.contact), ("type", "image")], file: nil)
        #expect(noFile.errorDetails.keys.contains("file"), "\(noFile.text)")
        let unknown = try await Self.multipart(gateway, fields: [("phone", Self.contact), ("colour", "red"), ("message", "hi")], file: nil)
        #expect(unknown.errorDetails.keys.contains("colour"), "\(unknown.text)")
        let textOnly = try await Self.multipart(gateway, fields: [("phone", Self.contact), ("message", "plain text by form")], file: nil)
        #expect(textOnly.status == 200, "\(textOnly.text)")
        try await gateway.discard()
    }

    @Test("+60100000001 echoes an image as an incoming image with the same bytes; the webhook says it is ready")
    func echoImage() async throws {
        let receiver = try await WebhookReceiver.start()
        let gateway = try await TestGateway.start()
        try await gateway.connect()
        try await gateway.addWebhook(url: receiver.url, events: ["message.received"])
        let image = SampleMedia.jpeg(width: 100, height: 50)
        _ = try Self.sentID(
            try await Self.sendJSON(gateway, to: "+60100000001", media: ["type": "image", "data": Data(image).base64EncodedString()]))
        let requests = try await receiver.waitForRequests(1)
        let data = try #require(requests[0].json["data"] as? [String: Any])
        #expect(data["message_type"] as? String == "image")
        #expect(data["has_media"] as? Bool == true)
        #expect(data["media_status"] as? String == "ready")
        #expect(data["from"] as? String == "+60100000001")
        let url = try #require(data["media_url"] as? String)
        let served = try await gateway.get(url)
        #expect(Array(served.body) == image)
        #expect(Self.header(served, "Content-Type") == "image/jpeg")
        let incomingID = try #require(data["message_id"] as? String)
        let incoming = try #require(try await Self.message(gateway, id: incomingID))
        #expect((incoming["media"] as? [String: Any])?["width"] as? Int == 100)
        #expect(incoming["direction"] as? String == "incoming")

        // Injected through the sandbox: a document, by data.
        let pdf = SampleMedia.pdf()
        let injected = try await gateway.post(
            "/api/sandbox/incoming",
            TestGateway.json([
                "phone": "+60111111111", "name": "Customer",
                "media": ["type": "document", "data": Data(pdf).base64EncodedString(), "filename": "slip.pdf", "caption": "payment slip"],
            ]))
        #expect(injected.status == 200, "\(injected.text)")
        #expect(try injected.data["message_type"] as? String == "document")
        let slipURL = try #require(try injected.data["media_url"] as? String)
        #expect(Array(try await gateway.get(slipURL).body) == pdf)
        let second = try await receiver.waitForRequests(2)
        #expect((second[1].json["data"] as? [String: Any])?["media_status"] as? String == "ready")
        // A text message's webhook says it has no media.
        try await gateway.receive("plain")
        let third = try await receiver.waitForRequests(3)
        let plain = try #require(third[2].json["data"] as? [String: Any])
        #expect(plain["has_media"] as? Bool == false)
        #expect(plain["media_status"] == nil, "a text message's webhook keeps the spec's exact fields")
        try await gateway.discard()
        await receiver.stop()
    }

    @Test("range requests: 206 with Content-Range, suffix and open ranges, 416 beyond the end, HEAD")
    func ranges() async throws {
        let gateway = try await TestGateway.start()
        try await gateway.connect()
        let pdf = SampleMedia.pdf(padding: 10_000)
        let id = try Self.sentID(try await Self.sendJSON(gateway, media: ["type": "document", "data": Data(pdf).base64EncodedString()]))
        let path = "/api/media/\(id)"
        func ranged(_ range: String) async throws -> TestGateway.Reply { try await gateway.request(.GET, path, headers: [("Range", range)]) }

        let first = try await ranged("bytes=0-9")
        #expect(first.status == 206)
        #expect(Array(first.body) == Array(pdf[0..<10]))
        #expect(Self.header(first, "Content-Range") == "bytes 0-9/\(pdf.count)")
        #expect(Self.header(first, "Content-Length") == "10")
        let middle = try await ranged("bytes=100-199")
        #expect(Array(middle.body) == Array(pdf[100..<200]))
        let suffix = try await ranged("bytes=-7")
        #expect(Array(suffix.body) == Array(pdf.suffix(7)))
        let open = try await ranged("bytes=\(pdf.count - 3)-")
        #expect(Array(open.body) == Array(pdf.suffix(3)))
        let clamped = try await ranged("bytes=\(pdf.count - 2)-\(pdf.count + 100)")
        #expect(clamped.status == 206 && Array(clamped.body) == Array(pdf.suffix(2)))
        let beyond = try await ranged("bytes=\(pdf.count)-")
        #expect(beyond.status == 416)
        #expect(beyond.errorCode == "RANGE_NOT_SATISFIABLE")
        #expect(Self.header(beyond, "Content-Range") == "bytes */\(pdf.count)")
        let several = try await ranged("bytes=0-1,5-6")
        #expect(several.status == 200 && Array(several.body) == pdf)
        let head = try await gateway.request(.HEAD, path)
        #expect(head.status == 200 && head.body.isEmpty && Self.header(head, "Content-Length") == "\(pdf.count)")
        try await gateway.discard()
    }

    @Test("signed links work without a key until they expire; a tampered one, another session's key and text messages get nothing")
    func signedLinksAndOwnership() async throws {
        let gateway = try await TestGateway.start()
        try await gateway.connect()
        let image = SampleMedia.jpeg()
        let id = try Self.sentID(try await Self.sendJSON(gateway, media: ["type": "image", "data": Data(image).base64EncodedString()]))
        #expect(try await gateway.get("/api/media/\(id)", auth: .none).status == 401)

        let link = try await gateway.post("/api/media/\(id)/link?expires_in=600")
        #expect(link.status == 200, "\(link.text)")
        let url = try #require(try link.data["url"] as? String)
        #expect(url.hasPrefix("/api/media/\(id)?expires="))
        let viaLink = try await gateway.get(url, auth: .none)
        #expect(viaLink.status == 200 && Array(viaLink.body) == image)
        let ranged = try await gateway.request(.GET, url, auth: .none, headers: [("Range", "bytes=0-2")])
        #expect(ranged.status == 206 && Array(ranged.body) == [0xFF, 0xD8, 0xFF])

        var components = try #require(URLComponents(string: url))
        let sig = try #require(components.queryItems?.first { $0.name == "sig" }?.value)
        let expires = try #require(components.queryItems?.first { $0.name == "expires" }?.value)
        components.queryItems = [URLQueryItem(name: "expires", value: "\(Int(expires)! + 1000)"), URLQueryItem(name: "sig", value: sig)]
        let longer = try await gateway.get(try #require(components.string), auth: .none)
        #expect(longer.status == 401 && longer.errorDetails.keys.contains("sig"))
        let flipped = String(sig.dropLast()) + (sig.last == "0" ? "1" : "0")
        #expect(try await gateway.get("/api/media/\(id)?expires=\(expires)&sig=\(flipped)", auth: .none).status == 401)
        #expect(try await gateway.get("/api/media/\(id)?expires=\(expires)&sig=xyz", auth: .none).status == 401)

        let short = try await gateway.post("/api/media/\(id)/link?expires_in=1")
        let shortURL = try #require(try short.data["url"] as? String)
        try await Task.sleep(for: .milliseconds(2100))
        let expired = try await gateway.get(shortURL, auth: .none)
        #expect(expired.status == 401 && expired.errorDetails.keys.contains("expires"), "\(expired.text)")
        #expect(try await gateway.post("/api/media/\(id)/link?expires_in=0").errorDetails.keys.contains("expires_in"))

        // Another session's key: as if the message did not exist.
        let other = try await gateway.connectedSession(named: "other")
        let foreign = try await gateway.get("/api/media/\(id)", auth: .bearer(other.apiKey))
        #expect(foreign.status == 404 && foreign.errorCode == "NOT_FOUND")
        #expect(try await gateway.post("/api/media/\(id)/link", auth: .bearer(other.apiKey)).status == 404)
        // A link made for one message does not open another.
        let text = try await gateway.post("/api/messages/send", TestGateway.json(["phone": Self.contact, "message": "hello"]))
        let textID = try Self.sentID(text)
        let textMedia = try await gateway.get("/api/media/\(textID)")
        #expect(textMedia.status == 404)
        #expect(try await gateway.get("/api/media/\(textID)?expires=\(expires)&sig=\(sig)", auth: .none).status == 401)
        try await gateway.discard()
    }

    @Test("bad input is refused with VALIDATION_ERROR naming the field, and nothing is sent")
    func badInput() async throws {
        let gateway = try await TestGateway.start(media: MediaConfiguration(maximumFileSize: 20_000))
        try await gateway.connect()
        let jpeg = Data(SampleMedia.jpeg()).base64EncodedString()
        let cases: [(media: [String: Any]?, message: String?, field: String)] = [
            (["type": "sticker", "data": jpeg], nil, "media.type"),
            (["type": "image", "data": jpeg, "url": "http://127.0.0.1/x.jpg"], nil, "media"),
            (["type": "image"], nil, "media"),
            (nil, nil, "message"),
            (["type": "image", "data": "***not base64***"], nil, "media.data"),
            (["type": "image", "data": Data(SampleMedia.jpeg(padding: 30_000)).base64EncodedString()], nil, "media.data"),
            (["type": "image", "data": jpeg, "mime_type": "image/png"], nil, "media.mime_type"),
            (["type": "image", "data": Data(SampleMedia.pdf()).base64EncodedString()], nil, "media.type"),
            (["type": "video", "data": jpeg, "mime_type": "video/mp4"], nil, "media.mime_type"),
            (["type": "audio", "data": Data(SampleMedia.random(500)).base64EncodedString()], nil, "media.type"),
            (
                ["type": "document", "data": Data(SampleMedia.random(500)).base64EncodedString(), "mime_type": "application/pdf"], nil,
                "media.mime_type"
            ),
            (["type": "image", "data": jpeg, "mime_type": "not a type"], nil, "media.mime_type"),
            (["type": "image", "data": jpeg, "filename": "../"], nil, "media.filename"),
            (["type": "image", "data": jpeg, "caption": "one"], "two", "media.caption"),
            (["type": "image", "data": jpeg, "colour": "red"], nil, "media.colour"),
            (["type": "image", "data": ""], nil, "media.data"),
        ]
        for item in cases {
            var body: [String: Any] = ["phone": Self.contact]
            if let media = item.media { body["media"] = media }
            if let message = item.message { body["message"] = message }
            let reply = try await gateway.post("/api/messages/send", TestGateway.json(body))
            #expect(reply.status == 400, "\(item.field): \(reply.text)")
            #expect(reply.errorCode == "VALIDATION_ERROR", "\(item.field): \(reply.text)")
            #expect(reply.errorDetails.keys.contains(item.field), "expected \(item.field) named: \(reply.text)")
        }
        let sent = try await gateway.get("/api/messages")
        #expect(try (sent.data["pagination"] as? [String: Any])?["total"] as? Int == 0)
        // A random document with no declared type is accepted as octet-stream.
        let blob = SampleMedia.random(700)
        let id = try Self.sentID(try await Self.sendJSON(gateway, media: ["type": "document", "data": Data(blob).base64EncodedString()]))
        let served = try await gateway.get("/api/media/\(id)")
        #expect(Self.header(served, "Content-Type") == "application/octet-stream" && Array(served.body) == blob)
        try await gateway.discard()
    }

    @Test("files survive a restart, and the same file sent twice is stored once")
    func restartAndDeduplication() async throws {
        let first = try await TestGateway.start()
        try await first.connect()
        let image = SampleMedia.jpeg()
        let encoded = Data(image).base64EncodedString()
        let one = try Self.sentID(try await Self.sendJSON(first, media: ["type": "image", "data": encoded]))
        let two = try Self.sentID(try await Self.sendJSON(first, media: ["type": "image", "data": encoded, "caption": "again"]))
        let link = try #require(try await first.post("/api/media/\(one)/link").data["url"] as? String)
        let mediaFolder = URL(fileURLWithPath: first.dataDirectory).appendingPathComponent("media")
        let stored =
            FileManager.default.enumerator(atPath: mediaFolder.path)?.compactMap { $0 as? String }.filter { $0.split(separator: "/").count == 3 }
            ?? []
        #expect(stored.count == 1, "\(stored)")
        try await first.stop()

        let second = try await TestGateway.start(
            dataDirectory: first.dataDirectory, credentials: (first.apiKey, first.adminToken, first.sessionID))
        #expect(Array(try await second.get("/api/media/\(one)").body) == image)
        #expect(Array(try await second.get("/api/media/\(two)").body) == image)
        // The link's secret is in the store: a link made before the restart still opens.
        #expect(try await second.get(link, auth: .none).status == 200)
        try await second.discard()
    }
}
