import Foundation
import Testing

@testable import WhatsAppProtocol

#if canImport(Glibc)
import Glibc
#endif

/// The upload request's form and the media message's fields, against values worked out
/// independently (Python's `base64.urlsafe_b64encode` and `urllib.parse.quote_plus`, which
/// escape as Go's `url.QueryEscape` does for these inputs).
@Suite("Media upload and media messages")
struct MediaUploadTests {
    /// SHA-256 of "abc".
    static let hashOfABC: [UInt8] = [
        186, 120, 22, 191, 143, 1, 207, 234, 65, 65, 64, 222, 93, 174, 34, 35, 176, 3, 97, 163, 150, 23, 122, 156, 180, 16, 255, 97, 242, 0, 21,
        173,
    ]

    @Test func theTokenAndTargetAreWhatsmeows() {
        let token = MediaUpload.token(fileEncSHA256: Self.hashOfABC)
        #expect(token == "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0=")
        #expect(
            MediaUpload.target(kind: .document, token: token, auth: "AbC+/=x y~_-.")
                == "/mms/document/ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0=?auth=AbC%2B%2F%3Dx+y~_-.&token=ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0%3D"
        )
        #expect(MediaUpload.target(kind: .audio, token: "t", auth: "a").hasPrefix("/mms/audio/"), "voice notes upload as audio")
    }

    @Test func theEncryptedLengthIsWhatTheEncryptorWrites() throws {
        for length in [0, 1, 15, 16, 17, 1000, 262_144] {
            var encryptor = try MediaEncryptor(mediaKey: [UInt8](repeating: 7, count: 32), kind: .image)
            let body = try encryptor.update([UInt8](repeating: 1, count: length))
            let (tail, _) = try encryptor.finish()
            #expect(body.count + tail.count == MediaUpload.encryptedLength(plainLength: length), "\(length)")
        }
    }

    @Test func theAnswerMustNameADirectPath() throws {
        let good = Data(#"{"url":"https://mmg.whatsapp.net/v/t62/x.enc?ccb=1&mms3=true","direct_path":"/v/t62/x.enc?ccb=1"}"#.utf8)
        let location = try MediaUpload.location(from: good)
        #expect(location.directPath == "/v/t62/x.enc?ccb=1" && location.url.hasPrefix("https://mmg.whatsapp.net/"))
        #expect(throws: MediaUploadError.self) { try MediaUpload.location(from: Data(#"{"url":"https://x"}"#.utf8)) }
        #expect(throws: MediaUploadError.self) { try MediaUpload.location(from: Data("not json".utf8)) }
    }

    static let uploaded = UploadedMedia(
        mediaKey: [UInt8](repeating: 9, count: 32),
        digest: MediaDigest(fileSHA256: [UInt8](repeating: 1, count: 32), fileEncSHA256: hashOfABC, fileLength: 1234),
        url: "https://mmg.whatsapp.net/v/x.enc?a=1&mms3=true", directPath: "/v/x.enc?a=1",
        mediaKeyTimestamp: Date(timeIntervalSince1970: 1_700_000_000)
    )

    @Test func eachKindIsItsMessageWithEveryFieldAndTheEncMediaType() throws {
        let image = MediaMessage.message(Self.uploaded, .init(kind: .image, mimeType: "image/jpeg", caption: "hi", width: 640, height: 480))
        #expect(image.imageMessage.directPath == "/v/x.enc?a=1" && image.imageMessage.url == Self.uploaded.url)
        #expect(image.imageMessage.mediaKey == Data(repeating: 9, count: 32) && image.imageMessage.fileEncSha256 == Data(Self.hashOfABC))
        #expect(image.imageMessage.fileLength == 1234 && image.imageMessage.width == 640 && image.imageMessage.caption == "hi")
        #expect(image.imageMessage.mediaKeyTimestamp == 1_700_000_000 && !image.imageMessage.hasJpegthumbnail)

        let voice = MediaMessage.Description(kind: .audio, mimeType: "audio/ogg; codecs=opus", voiceNote: true)
        #expect(voice.mediaType == "ptt" && MediaMessage.message(Self.uploaded, voice).audioMessage.ptt)
        #expect(MediaMessage.Description(kind: .audio, mimeType: "audio/mpeg").mediaType == "audio")

        let document = MediaMessage.message(Self.uploaded, .init(kind: .document, mimeType: "application/pdf", caption: "c", fileName: "a.pdf"))
        let inner = document.documentWithCaptionMessage.message.documentMessage
        #expect(inner.fileName == "a.pdf" && inner.caption == "c" && inner.fileSha256 == Data(repeating: 1, count: 32))
        let plain = MediaMessage.message(Self.uploaded, .init(kind: .document, mimeType: "application/pdf", fileName: "a.pdf"))
        #expect(plain.hasDocumentMessage && !plain.hasDocumentWithCaptionMessage)

        let content = try MediaMessage.content(Self.uploaded, .init(kind: .video, mimeType: "video/mp4"))
        #expect(content.type == "media" && content.mediaType == "video")
        #expect(try WAMessage(serializedBytes: content.plaintext).videoMessage.directPath == "/v/x.enc?a=1")
    }

    @Test func onlyAnOpusStreamIsAVoiceNote() {
        func page(_ packet: [UInt8]) -> [UInt8] {
            Array("OggS".utf8) + [0, 2] + [UInt8](repeating: 0, count: 20) + [1, UInt8(packet.count)] + packet
        }
        #expect(MediaMessage.isOggOpus(head: page(Array("OpusHead".utf8) + [1, 1, 0, 0, 0x80, 0xBB, 0, 0, 0, 0, 0])))
        #expect(!MediaMessage.isOggOpus(head: page([1] + Array("vorbis".utf8) + [0, 0, 0, 0, 1, 0x44, 0xAC, 0, 0])))
        #expect(!MediaMessage.isOggOpus(head: Array("ID3".utf8) + [UInt8](repeating: 0, count: 60)))
    }

    /// A TCP listener that never accepts: connections complete (the kernel's backlog) and then
    /// hear nothing, as from a media host that stopped answering.
    private static func silentListener() -> (socket: Int32, port: Int) {
        // Close-on-exec, so that no peer another test starts meanwhile holds it open.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        listen(listener, 8)
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        return (listener, Int(UInt16(bigEndian: bound.sin_port)))
    }

    @Test func aHostThatStopsAnsweringFailsTheUploadAfterTheIdleTimeout() async throws {
        let (listener, port) = Self.silentListener()
        defer { close(listener) }
        let client = MediaHostClient(proxy: nil, additionalTrustedCAFile: nil, port: port, idleTimeout: .seconds(1))
        let started = ContinuousClock.now
        var failure: MediaHostError?
        do {
            _ = try await client.post(host: "localhost", target: "/mms/image/x", contentLength: 1) { write in try await write([0]) }
        } catch let error as MediaHostError {
            failure = error
        }
        let elapsed = ContinuousClock.now - started
        guard case .connectionFailed(let host, _)? = failure else {
            Issue.record("expected connectionFailed, got \(String(describing: failure))")
            return
        }
        #expect(host == "localhost")
        // Not before the idle timeout; the upper bound only says it ends (a loaded full run once
        // took over 10 s to get back to this test).
        #expect(elapsed >= .milliseconds(900) && elapsed < .seconds(60), "\(elapsed)")
    }

    /// A host may answer before the request is whole, or answer and close just as its last part
    /// goes out: its answer is the outcome, not the write that the close then failed. Here the
    /// fake CDN answers 500 and closes once it has the body, before the request's end is written.
    @Test func anAnswerThatArrivesBeforeTheRequestEndsIsTheOutcome() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        _ = try await double.ok("POST", "/cdn/fault", ["op": "upload", "status": 500])
        let client = MediaHostClient(
            proxy: .httpConnect(host: "127.0.0.1", port: double.endpoints.proxyPort), additionalTrustedCAFile: double.endpoints.caFile)
        let body = [UInt8](repeating: 7, count: 64 * 1024)
        let response = try await client.post(host: "mmg.whatsapp.net", target: "/mms/image/x", contentLength: body.count) { write in
            try await write(body)
            // The host has the whole body now; it answers and closes while this upload still holds
            // the end of its request.
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(response.status == 500)
    }
}
