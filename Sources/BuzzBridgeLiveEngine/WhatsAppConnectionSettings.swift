import Foundation
import WhatsAppProtocol

/// The `serve` command's WhatsApp settings as text (flags or environment), checked and turned
/// into the client's options with an error that names the setting.
public struct WhatsAppConnectionSettings: Sendable, Equatable {
    /// `http://host:port` (HTTP CONNECT) or `socks5://[user:password@]host:port`.
    public var proxy: String?
    /// A PEM file of extra trusted CAs for the TLS connection.
    public var caFile: String?
    /// 64 hex digits: replaces WhatsApp's pinned Noise root key (only for a server double).
    public var noiseRootKey: String?
    /// `X.Y.Z`: the WhatsApp Web version announced.
    public var version: String?
    /// `MIN,MAX,DEADLINE,GIVE_UP` in seconds: pings every MIN–MAX seconds, each answered within
    /// DEADLINE, reconnect after GIVE_UP without an answer. WhatsApp Web's timing unless set;
    /// shorter only so that a test against a server double sees a lost connection sooner.
    public var keepAlive: String?

    public init(proxy: String? = nil, caFile: String? = nil, noiseRootKey: String? = nil, version: String? = nil, keepAlive: String? = nil) {
        self.proxy = proxy
        self.caFile = caFile
        self.noiseRootKey = noiseRootKey
        self.version = version
        self.keepAlive = keepAlive
    }

    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// Whether the server's certificate chain is checked against something other than WhatsApp's root.
    public var replacesNoiseRoot: Bool { noiseRootKey != nil }

    public func clientOptions() throws(Invalid) -> WhatsAppClientOptions {
        var options = WhatsAppClientOptions()
        if let proxy {
            guard let parsed = URL(string: proxy) else { throw Invalid(description: "--wa-proxy is not a URL: \(proxy)") }
            do {
                options.proxy = try WhatsAppClientOptions.proxy(from: parsed)
            } catch {
                throw Invalid(description: "--wa-proxy must be http://host:port (HTTP CONNECT) or socks5://[user:password@]host:port, got \(proxy)")
            }
        }
        if let caFile {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: caFile, isDirectory: &isDirectory), !isDirectory.boolValue,
                let text = try? String(contentsOfFile: caFile, encoding: .utf8), text.contains("-----BEGIN CERTIFICATE-----")
            else { throw Invalid(description: "--wa-ca-file must be a readable PEM file of certificates: \(caFile)") }
            options.additionalTrustedCAFile = caFile
        }
        if let noiseRootKey {
            guard let key = Self.hexBytes(noiseRootKey), key.count == 32 else {
                throw Invalid(description: "--wa-noise-root-key must be 64 hex digits (a 32-byte Curve25519 public key)")
            }
            options.noiseRootKeyOverride = Data(key)
        }
        if let version {
            let parts = version.split(separator: ".", omittingEmptySubsequences: false).map { UInt32($0) }
            guard parts.count == 3, let major = parts[0], let minor = parts[1], let patch = parts[2] else {
                throw Invalid(description: "--wa-version must be X.Y.Z with numbers, such as 2.3000.1045649367, got \(version)")
            }
            options.version = WhatsAppWebVersion(major, minor, patch)
        }
        if let keepAlive {
            let seconds = keepAlive.split(separator: ",", omittingEmptySubsequences: false).map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard seconds.count == 4, let minimum = seconds[0], let maximum = seconds[1], let deadline = seconds[2], let giveUp = seconds[3],
                minimum > 0, maximum >= minimum, deadline > 0, giveUp > 0
            else {
                throw Invalid(
                    description: "--wa-keepalive must be MIN,MAX,DEADLINE,GIVE_UP in seconds (WhatsApp Web's: 20,30,10,180), got \(keepAlive)")
            }
            options.keepAlive = KeepAlive.Timing(
                minimumInterval: .milliseconds(Int64(minimum * 1000)), maximumInterval: .milliseconds(Int64(maximum * 1000)),
                responseDeadline: .milliseconds(Int64(deadline * 1000)), maximumFailTime: .milliseconds(Int64(giveUp * 1000))
            )
        }
        return options
    }

    private static func hexBytes(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }
}
