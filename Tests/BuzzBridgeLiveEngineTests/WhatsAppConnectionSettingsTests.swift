import Foundation
import Testing
import WhatsAppProtocol

@testable import BuzzBridgeLiveEngine

/// The `serve` flags for WhatsApp: each accepted form, and a refusal naming the flag for each bad one.
@Suite("Live engine: WhatsApp connection settings")
struct WhatsAppConnectionSettingsTests {
    @Test func acceptedSettingsBecomeClientOptions() throws {
        let caFile = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-ca-\(UUID().uuidString).pem").path
        try "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".write(toFile: caFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: caFile) }
        let key = String(repeating: "ab", count: 32)
        let options = try WhatsAppConnectionSettings(proxy: "http://127.0.0.1:8118", caFile: caFile, noiseRootKey: key, version: "2.3000.1")
            .clientOptions()
        #expect(options.proxy == .httpConnect(host: "127.0.0.1", port: 8118, credentials: nil))
        #expect(options.additionalTrustedCAFile == caFile)
        #expect(options.noiseRootKeyOverride == Data(repeating: 0xAB, count: 32))
        #expect(options.version == WhatsAppWebVersion(2, 3000, 1))
        let socks = try WhatsAppConnectionSettings(proxy: "socks5://user:pw@127.0.0.1:1080").clientOptions()
        #expect(socks.proxy == .socks5(host: "127.0.0.1", port: 1080, credentials: ProxyCredentials(username: "user", password: "pw")))
        let defaults = try WhatsAppConnectionSettings().clientOptions()
        #expect(defaults.proxy == nil && defaults.noiseRootKeyOverride == nil && defaults.version == .whatsmeowReference)
        #expect(defaults.keepAlive == .whatsmeow)
        let quick = try WhatsAppConnectionSettings(keepAlive: "0.5, 1,0.25,3").clientOptions()
        #expect(
            quick.keepAlive
                == KeepAlive.Timing(
                    minimumInterval: .milliseconds(500), maximumInterval: .seconds(1), responseDeadline: .milliseconds(250),
                    maximumFailTime: .seconds(3)))
    }

    @Test(arguments: [
        (WhatsAppConnectionSettings(proxy: "ftp://127.0.0.1:21"), "--wa-proxy"),
        (WhatsAppConnectionSettings(proxy: "127.0.0.1:8118"), "--wa-proxy"),
        (WhatsAppConnectionSettings(caFile: "/nonexistent/ca.pem"), "--wa-ca-file"),
        (WhatsAppConnectionSettings(caFile: "/tmp"), "--wa-ca-file"),
        (WhatsAppConnectionSettings(noiseRootKey: "abcd"), "--wa-noise-root-key"),
        (WhatsAppConnectionSettings(noiseRootKey: String(repeating: "zz", count: 32)), "--wa-noise-root-key"),
        (WhatsAppConnectionSettings(version: "2.3000"), "--wa-version"),
        (WhatsAppConnectionSettings(version: "2.x.1"), "--wa-version"),
        (WhatsAppConnectionSettings(keepAlive: "20,30,10"), "--wa-keepalive"),
        (WhatsAppConnectionSettings(keepAlive: "30,20,10,180"), "--wa-keepalive"),
        (WhatsAppConnectionSettings(keepAlive: "0,30,10,180"), "--wa-keepalive"),
    ])
    func badSettingsAreRefusedByName(settings: WhatsAppConnectionSettings, flag: String) {
        #expect {
            _ = try settings.clientOptions()
        } throws: { error in
            (error as? WhatsAppConnectionSettings.Invalid)?.description.hasPrefix(flag) == true
        }
    }
}
