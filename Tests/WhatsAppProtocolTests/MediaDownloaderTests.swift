import Crypto
import Foundation
import Testing

@testable import WhatsAppProtocol

/// ``MediaDownloader`` against the server double's fake CDN, behind its proxies and TLS: the files
/// are encrypted by an independent implementation (media_crypto.py) when a simulated phone sends
/// them, so a download that verifies and decrypts to the phone's plaintext is right.
@Suite("Media downloader against the server double's CDN")
struct MediaDownloaderTests {
    private static let credentials = ProxyCredentials(username: "user", password: "secret")

    /// Tom's phone sends Lena's phone a document of `size` deterministic bytes; the file as a
    /// message names it, and the plaintext's SHA-256 (hex).
    private static func sentFile(_ double: ServerDouble, size: Int, tamper: String? = nil) async throws -> (DownloadableMedia, String) {
        try await double.ok("POST", "/contacts/defaults", [:])
        var media: [String: Any] = ["type": "document", "size": size, "seed": Int.random(in: 0..<1_000_000)]
        if let tamper { media["tamper"] = tamper }
        let sent = try await double.ok("POST", "/contacts/send", ["from": "60111222333", "to": "60144455566", "media": media])
        let file = try #require(sent["media"] as? [String: Any])
        func bytes(_ name: String) throws -> [UInt8] { Array(Data(hex: try #require(file[name] as? String))) }
        let downloadable = DownloadableMedia(
            kind: .document, directPath: try #require(file["directPath"] as? String), url: file["url"] as? String,
            mediaKey: try bytes("mediaKey"), fileSHA256: try bytes("fileSha256"), fileEncSHA256: try bytes("fileEncSha256"),
            fileLength: try #require(file["length"] as? Int))
        return (downloadable, try #require(file["sha256"] as? String))
    }

    private static func destination() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("media-download-\(UUID().uuidString)")
    }

    private static func sha256(of file: URL) throws -> String {
        SHA256.hash(data: try Data(contentsOf: file)).map { String(format: "%02x", $0) }.joined()
    }

    private static func downloads(_ double: ServerDouble) async throws -> [[String: Any]] {
        (try await double.ok("GET", "/cdn")["downloads"] as? [[String: Any]] ?? []).filter { $0["by"] == nil }
    }

    @Test func aDownloadThroughASOCKS5ProxyThatRequiresCredentialsAuthenticates() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        // As a proxy configured with a user refuses a client that offers none.
        try await double.ok("POST", "/proxy", ["socksRequireAuth": true])
        let (media, sha256) = try await Self.sentFile(double, size: 300_000)
        let proxy = ProxyConfiguration.socks5(host: "127.0.0.1", port: double.endpoints.socksPort, credentials: Self.credentials)
        let downloader = MediaDownloader(proxy: proxy, additionalTrustedCAFile: double.endpoints.caFile)
        let destination = Self.destination()
        defer { try? FileManager.default.removeItem(at: destination) }
        try await downloader.download(media, hosts: ["mmg.whatsapp.net"], to: destination, maxBytes: 1 << 20)
        #expect(try Self.sha256(of: destination) == sha256)
        let tunnels = try await double.ok("GET", "/clients")["tunnels"] as? [[String: Any]] ?? []
        #expect(tunnels.contains { $0["proxy"] as? String == "socks5" && $0["target"] as? String == "mmg.whatsapp.net:443" })
        // whatsmeow's download request: WhatsApp Web's Origin and Referer.
        let request = try #require(try await Self.downloads(double).last)
        #expect(request["status"] as? Int == 200 && request["host"] as? String == "mmg.whatsapp.net")
        #expect(request["origin"] as? String == "https://web.whatsapp.com" && request["referer"] as? String == "https://web.whatsapp.com/")
    }

    @Test func aWrongProxyPasswordFailsTheDownloadAndLeavesNoFile() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        try await double.ok("POST", "/proxy", ["socksRequireAuth": true])
        let (media, _) = try await Self.sentFile(double, size: 1000)
        let destination = Self.destination()
        for credentials in [ProxyCredentials(username: "user", password: "wrong"), nil] {
            let proxy = ProxyConfiguration.socks5(host: "127.0.0.1", port: double.endpoints.socksPort, credentials: credentials)
            let downloader = MediaDownloader(proxy: proxy, additionalTrustedCAFile: double.endpoints.caFile)
            await #expect(throws: MediaDownloadError.self) {
                try await downloader.download(media, hosts: ["mmg.whatsapp.net"], to: destination, maxBytes: 1 << 20)
            }
            #expect(!FileManager.default.fileExists(atPath: destination.path))
        }
        #expect(try await Self.downloads(double).isEmpty, "nothing reached the CDN")
    }

    @Test func aFileDamagedOnOneHostIsFetchedFromTheNext() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        let (media, sha256) = try await Self.sentFile(double, size: 200_000)
        try await double.ok("POST", "/cdn/fault", ["kind": "corrupt", "host": "mmg.whatsapp.net"])
        let proxy = ProxyConfiguration.httpConnect(host: "127.0.0.1", port: double.endpoints.proxyPort)
        let downloader = MediaDownloader(proxy: proxy, additionalTrustedCAFile: double.endpoints.caFile)
        let destination = Self.destination()
        defer { try? FileManager.default.removeItem(at: destination) }
        try await downloader.download(media, hosts: ["mmg.whatsapp.net", "mmg-fallback.whatsapp.net"], to: destination, maxBytes: 1 << 20)
        #expect(try Self.sha256(of: destination) == sha256)
        #expect(try await Self.downloads(double).compactMap { $0["host"] as? String } == ["mmg.whatsapp.net", "mmg-fallback.whatsapp.net"])
    }

    @Test func aMissingFileIsPermanentAndNoOtherHostIsAsked() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        let (media, _) = try await Self.sentFile(double, size: 1000, tamper: "missing")
        let proxy = ProxyConfiguration.httpConnect(host: "127.0.0.1", port: double.endpoints.proxyPort)
        let downloader = MediaDownloader(proxy: proxy, additionalTrustedCAFile: double.endpoints.caFile)
        let destination = Self.destination()
        await #expect(throws: MediaDownloadError.unavailable(status: 404)) {
            try await downloader.download(media, hosts: ["mmg.whatsapp.net", "mmg-fallback.whatsapp.net"], to: destination, maxBytes: 1 << 20)
        }
        #expect(!FileManager.default.fileExists(atPath: destination.path))
        #expect(try await Self.downloads(double).count == 1)
    }

    @Test func aFileLongerThanTheMessageSaysIsRefusedAndLeavesNoFile() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        var (media, _) = try await Self.sentFile(double, size: 100_000)
        media.fileLength = 50_000
        let proxy = ProxyConfiguration.httpConnect(host: "127.0.0.1", port: double.endpoints.proxyPort)
        let downloader = MediaDownloader(proxy: proxy, additionalTrustedCAFile: double.endpoints.caFile)
        let destination = Self.destination()
        await #expect(throws: MediaDownloadError.self) {
            try await downloader.download(media, hosts: ["mmg.whatsapp.net"], to: destination, maxBytes: 1 << 20)
        }
        #expect(!FileManager.default.fileExists(atPath: destination.path))
    }

    @Test func aHostThatStopsSendingMidFileFailsTheDownloadAfterTheIdleTimeout() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        let (media, _) = try await Self.sentFile(double, size: 100_000)
        // A tenth of the file every 30 s: the connection goes quiet for longer than the idle timeout.
        try await double.ok("POST", "/cdn/fault", ["kind": "slow", "seconds": 300])
        let client = MediaHostClient(
            proxy: .httpConnect(host: "127.0.0.1", port: double.endpoints.proxyPort), additionalTrustedCAFile: double.endpoints.caFile,
            idleTimeout: .seconds(1), requestTimeout: .seconds(120))
        let destination = Self.destination()
        let started = ContinuousClock.now
        var failure: MediaDownloadError?
        do {
            try await MediaDownloader(client: client).download(media, hosts: ["mmg.whatsapp.net"], to: destination, maxBytes: 1 << 20)
        } catch {
            failure = error
        }
        guard case .transient(let reason)? = failure else {
            Issue.record("expected a transient failure, got \(String(describing: failure))")
            return
        }
        #expect(reason.contains("nothing was read or written"), "\(reason)")
        #expect(ContinuousClock.now - started < .seconds(30))
        #expect(!FileManager.default.fileExists(atPath: destination.path))
    }

    @Test func aDownloadThatOutlastsTheRequestTimeoutFailsAsTransient() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        let (media, _) = try await Self.sentFile(double, size: 100_000)
        // Bytes keep coming (a tenth every 6 s, never idle for the default 60 s) but the whole takes a minute.
        try await double.ok("POST", "/cdn/fault", ["kind": "slow", "seconds": 60])
        let proxy = ProxyConfiguration.httpConnect(host: "127.0.0.1", port: double.endpoints.proxyPort)
        let downloader = MediaDownloader(proxy: proxy, additionalTrustedCAFile: double.endpoints.caFile, requestTimeout: .seconds(2))
        let destination = Self.destination()
        let started = ContinuousClock.now
        var failure: MediaDownloadError?
        do {
            try await downloader.download(media, hosts: ["mmg.whatsapp.net"], to: destination, maxBytes: 1 << 20)
        } catch {
            failure = error
        }
        guard case .transient(let reason)? = failure else {
            Issue.record("expected a transient failure, got \(String(describing: failure))")
            return
        }
        #expect(reason.contains("took longer than 2 s"), "\(reason)")
        // Ended by the deadline, long before the file would have been whole (however loaded the machine).
        #expect(ContinuousClock.now - started < .seconds(60))
        #expect(!FileManager.default.fileExists(atPath: destination.path))
    }
}
