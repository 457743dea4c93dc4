import Foundation
import QRCode

/// The one-character client type at the end of the pairing string; the phone uses it to pick
/// the icon of the linked device (whatsmeow pair-code.go: PairClientType).
public enum QRClientType: String, Sendable, CaseIterable {
    case unknown = "0"
    case chrome = "1"
    case edge = "2"
    case firefox = "3"
    case internetExplorer = "4"
    case opera = "5"
    case safari = "6"
    case electron = "7"
    case uwp = "8"
    case otherWebClient = "9"
    case macOS = "c"
    case android = "e"

    /// The type whatsmeow derives from the announced device platform, falling back to the
    /// user agent, which is always WEB here (whatsmeow pair.go: getQRClientType).
    public init(platform: WADeviceProps.PlatformType) {
        switch platform {
        case .chrome: self = .chrome
        case .firefox: self = .firefox
        case .edge: self = .edge
        case .ie: self = .internetExplorer
        case .opera: self = .opera
        case .safari: self = .safari
        case .uwp: self = .uwp
        case .androidPhone: self = .android
        default: self = .otherWebClient
        }
    }
}

/// What the phone scans to link this device: one server-issued ref and the device's public
/// keys (whatsmeow pair.go: makeQRData):
///
///     https://wa.me/settings/linked_devices#REF,NOISE_PUB,IDENTITY_PUB,ADV_SECRET,CLIENT_TYPE
///
/// The keys are standard base64 with padding.
public struct PairingQRCode: Sendable, Hashable {
    public static let prefix = "https://wa.me/settings/linked_devices#"

    public let text: String

    public init(ref: String, credentials: DeviceCredentials, clientType: QRClientType) {
        let fields = [
            ref,
            credentials.noiseKey.publicKey.rawRepresentation.base64EncodedString(),
            credentials.identityKey.publicKey.rawRepresentation.base64EncodedString(),
            credentials.advSecret.base64EncodedString(),
            clientType.rawValue,
        ]
        text = Self.prefix + fields.joined(separator: ",")
    }

    /// The code as a PNG, drawn by the same encoder the gateway uses.
    public func png(moduleSize: Int = 8) throws -> [UInt8] {
        try QRCode(text: text, errorCorrection: .medium).png(moduleSize: moduleSize)
    }
}

/// The refs of one `pair-device` IQ, shown one after another: while six refs remain (the first
/// of the six the server normally sends) for 60 s, otherwise for 20 s (whatsmeow qrchan.go:
/// emitQRs). When all have been shown the client should disconnect; reconnecting brings new refs.
public struct PairingRefRotation: Sendable {
    public static let firstDuration: Duration = .seconds(60)
    public static let laterDuration: Duration = .seconds(20)

    public let refs: [String]

    public init(refs: [String]) {
        self.refs = refs
    }

    /// How long the ref at `index` of `count` refs stays on screen.
    public static func duration(ofRefAt index: Int, of count: Int) -> Duration {
        count - index == 6 ? firstDuration : laterDuration
    }

    /// The ref to show `elapsed` after the IQ arrived, with the time it has left; nil once
    /// every ref has expired.
    public func current(after elapsed: Duration) -> (index: Int, ref: String, remaining: Duration)? {
        var end = Duration.zero
        for (index, ref) in refs.enumerated() {
            end += Self.duration(ofRefAt: index, of: refs.count)
            if elapsed < end { return (index, ref, end - elapsed) }
        }
        return nil
    }

    /// The total time the refs last.
    public var lifetime: Duration {
        refs.indices.reduce(Duration.zero) { $0 + Self.duration(ofRefAt: $1, of: refs.count) }
    }
}

extension BinaryNode {
    /// The refs of a `<iq><pair-device><ref>…</ref>…</pair-device></iq>` stanza, in order.
    public var pairingRefs: [String]? {
        guard tag == "iq", let pairDevice = child("pair-device") else { return nil }
        return pairDevice.children.filter { $0.tag == "ref" }.compactMap { ref in
            ref.contentBytes.map { String(decoding: $0, as: UTF8.self) }
        }
    }
}
