import Foundation
import Testing

@testable import WhatsAppProtocol

@Suite("Downloadable media") struct DownloadableMediaTests {
    static let key = [UInt8](repeating: 7, count: 32)
    static let plainHash = [UInt8](repeating: 1, count: 32)
    /// Chosen so that its base64 has `-`, `_` and padding once made URL-safe.
    static let encHash: [UInt8] = [0xfb, 0xff, 0xbf] + [UInt8](repeating: 0, count: 29)

    static func image(directPath: String = "/v/t62.7118-24/1_n.enc?ccb=11-4&oh=01_x&oe=AB", url: String = "") -> WAMessage {
        var image = WAImageMessage()
        image.url = url
        image.directPath = directPath
        image.mediaKey = Data(key)
        image.fileSha256 = Data(plainHash)
        image.fileEncSha256 = Data(encHash)
        image.fileLength = 1234
        image.mimetype = "image/jpeg"
        image.caption = "my passport"
        image.width = 64
        image.height = 48
        var message = WAMessage()
        message.imageMessage = image
        return message
    }

    @Test("the download URL is whatsmeow's: direct path, &hash= URL-safe base64 with padding, &mms-type=, &__wa-mms=")
    func downloadURL() throws {
        let media = try #require(DownloadableMedia(of: Self.image()))
        let hash = Data(Self.encHash).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        #expect(hash.hasSuffix("=") && hash.contains("-") && hash.contains("_"))
        #expect(
            media.downloadURL(host: "mmg.whatsapp.net")
                == "https://mmg.whatsapp.net/v/t62.7118-24/1_n.enc?ccb=11-4&oh=01_x&oe=AB&hash=\(hash.replacingOccurrences(of: "=", with: "%3D"))"
                + "&mms-type=image&__wa-mms=")
        #expect(media.downloadURLs(hosts: ["a", "b"]).map { URL(string: $0)?.host } == ["a", "b"])
    }

    @Test("a media message gives its file's key, digests and facts; a message without a usable key or location gives none")
    func extraction() throws {
        let media = try #require(DownloadableMedia(of: Self.image()))
        #expect(media.kind == .image && media.mediaKey == Self.key && media.fileLength == 1234)
        #expect(media.mimeType == "image/jpeg" && media.width == 64 && media.height == 48)
        #expect(MessageContent(of: Self.image())?.file == media)
        var noKey = Self.image()
        noKey.imageMessage.mediaKey = Data([1, 2, 3])
        #expect(DownloadableMedia(of: noKey) == nil)
        #expect(DownloadableMedia(of: Self.image(directPath: "")) == nil)
        // An old message with only its URL is fetched from the URL.
        let byURL = try #require(DownloadableMedia(of: Self.image(directPath: "", url: "https://mmg.whatsapp.net/d/f/x.enc")))
        #expect(byURL.downloadURLs(hosts: ["a"]) == ["https://mmg.whatsapp.net/d/f/x.enc"])
        // A voice note and a document keep what the gateway shows.
        var audio = WAMessage()
        audio.audioMessage.mediaKey = Data(Self.key)
        audio.audioMessage.fileSha256 = Data(Self.plainHash)
        audio.audioMessage.fileEncSha256 = Data(Self.encHash)
        audio.audioMessage.directPath = "/v/a?x=1"
        audio.audioMessage.ptt = true
        audio.audioMessage.mimetype = "audio/ogg; codecs=opus"
        let voice = try #require(DownloadableMedia(of: audio))
        #expect(voice.kind == .audio && voice.isVoiceNote && voice.mimeType == "audio/ogg; codecs=opus")
        var document = WAMessage()
        document.documentMessage.mediaKey = Data(Self.key)
        document.documentMessage.fileSha256 = Data(Self.plainHash)
        document.documentMessage.fileEncSha256 = Data(Self.encHash)
        document.documentMessage.directPath = "/v/d?x=1"
        document.documentMessage.fileName = "ticket.pdf"
        #expect(DownloadableMedia(of: document)?.fileName == "ticket.pdf")
    }

    @Test("it survives a JSON round trip (the gateway's durable queue)")
    func codable() throws {
        let media = try #require(DownloadableMedia(of: Self.image()))
        let decoded = try JSONDecoder().decode(DownloadableMedia.self, from: JSONEncoder().encode(media))
        #expect(decoded == media)
    }

    @Test("a file larger than the limit is refused before anything is fetched")
    func tooLarge() async throws {
        let media = try #require(DownloadableMedia(of: Self.image()))
        let downloader = MediaDownloader(proxy: nil, additionalTrustedCAFile: nil)
        await #expect(throws: MediaDownloadError.tooLarge(length: 1234, limit: 1000)) {
            try await downloader.download(media, hosts: ["127.0.0.1"], to: URL(fileURLWithPath: "/nonexistent/x"), maxBytes: 1000)
        }
    }
}
