import Crypto
import Foundation
import SwiftProtobuf

/// The WhatsApp Web version a client claims. The server refuses versions that are too old
/// (`failure reason=405`), so it must track the current one.
public struct WhatsAppWebVersion: Sendable, Hashable, CustomStringConvertible {
    public var primary: UInt32
    public var secondary: UInt32
    public var tertiary: UInt32

    public init(_ primary: UInt32, _ secondary: UInt32, _ tertiary: UInt32) {
        self.primary = primary
        self.secondary = secondary
        self.tertiary = tertiary
    }

    /// The version whatsmeow claims at commit 33cfac51 (store/clientpayload.go: waVersion).
    public static let whatsmeowReference = WhatsAppWebVersion(2, 3000, 1_045_649_367)

    public var description: String { "\(primary).\(secondary).\(tertiary)" }

    /// MD5 of the dotted version string, sent as the registration's build hash.
    public var buildHash: Data { Data(Insecure.MD5.hash(data: Data(description.utf8))) }
}

/// How the companion describes itself; the phone shows `osName` in its linked-devices list,
/// and `platform` picks the icon and the QR code's client-type letter.
public struct CompanionDescription: Sendable, Hashable {
    public var osName: String
    public var osVersion: (UInt32, UInt32, UInt32)
    public var platform: WADeviceProps.PlatformType

    public init(osName: String, osVersion: (UInt32, UInt32, UInt32) = (0, 1, 0), platform: WADeviceProps.PlatformType = .unknown) {
        self.osName = osName
        self.osVersion = osVersion
        self.platform = platform
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.osName == rhs.osName && lhs.osVersion == rhs.osVersion && lhs.platform == rhs.platform
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(osName)
        hasher.combine(osVersion.0)
        hasher.combine(osVersion.1)
        hasher.combine(osVersion.2)
        hasher.combine(platform)
    }

    /// The history-sync capabilities whatsmeow announces (store/clientpayload.go: DeviceProps).
    var deviceProps: WADeviceProps {
        var props = WADeviceProps()
        props.os = osName
        props.version.primary = osVersion.0
        props.version.secondary = osVersion.1
        props.version.tertiary = osVersion.2
        props.platformType = platform
        props.requireFullSync = false
        var history = WADeviceProps.HistorySyncConfig()
        history.storageQuotaMb = 10240
        history.inlineInitialPayloadInE2EeMsg = true
        history.supportCallLogHistory = true
        history.supportBotUserAgentChatHistory = true
        history.supportCagReactionsAndPolls = true
        history.supportBizHostedMsg = true
        history.supportRecentSyncChunkMessageCountTuning = true
        history.supportHostedGroupMsg = true
        history.supportFbidBotChatHistory = true
        history.supportMessageAssociation = true
        history.supportGroupHistory = true
        history.thumbnailSyncDaysLimit = 60
        history.supportManusHistory = true
        history.supportHatchHistory = true
        props.historySyncConfig = history
        return props
    }
}

/// The `ClientPayload` sent, encrypted, in the handshake's last message
/// (whatsmeow store/clientpayload.go).
public enum ClientPayloads {
    /// The payload for the next connection: login once paired, registration before
    /// (whatsmeow store/clientpayload.go: GetClientPayload).
    public static func next(
        credentials: DeviceCredentials,
        pairedDevice: PairedDevice?,
        version: WhatsAppWebVersion = .whatsmeowReference,
        companion: CompanionDescription
    ) throws -> WAClientPayload {
        if let pairedDevice {
            return try login(device: pairedDevice.jid, version: version, companion: companion)
        }
        return try registration(credentials: credentials, version: version, companion: companion)
    }

    /// For a device not yet paired: carries the keys the phone will bind to the account.
    public static func registration(
        credentials: DeviceCredentials,
        version: WhatsAppWebVersion = .whatsmeowReference,
        companion: CompanionDescription
    ) throws -> WAClientPayload {
        var payload = base(version: version, companion: companion)
        var pairing = WAClientPayload.DevicePairingRegistrationData()
        pairing.eRegid = bigEndian(credentials.registrationID, bytes: 4)
        pairing.eKeytype = Data([0x05])
        pairing.eIdent = credentials.identityKey.publicKey.rawRepresentation
        // The signed prekey id travels as 3 bytes.
        pairing.eSkeyID = bigEndian(credentials.signedPreKey.id, bytes: 3)
        pairing.eSkeyVal = credentials.signedPreKey.publicKey
        pairing.eSkeySig = credentials.signedPreKey.signature
        pairing.buildHash = version.buildHash
        pairing.deviceProps = try companion.deviceProps.serializedData()
        payload.devicePairingData = pairing
        payload.passive = false
        payload.pull = false
        return payload
    }

    public enum Failure: Error, Equatable, Sendable {
        /// The login username is the phone number: a JID whose user is not a number cannot log in.
        case nonNumericUser(String)
    }

    /// For a paired device logging in again as `device` (phone-number JID with device number).
    public static func login(
        device: JID,
        version: WhatsAppWebVersion = .whatsmeowReference,
        companion: CompanionDescription
    ) throws(Failure) -> WAClientPayload {
        guard !device.user.isEmpty, device.user.allSatisfy({ $0.isASCII && $0.isNumber }), let username = UInt64(device.user) else {
            throw .nonNumericUser(device.user)
        }
        var payload = base(version: version, companion: companion)
        payload.username = username
        payload.device = UInt32(device.device)
        payload.passive = true
        payload.pull = true
        payload.lidDbMigrated = true
        payload.lc = 1
        return payload
    }

    private static func base(version: WhatsAppWebVersion, companion: CompanionDescription) -> WAClientPayload {
        var payload = WAClientPayload()
        var agent = WAClientPayload.UserAgent()
        agent.platform = .web
        agent.releaseChannel = .release
        agent.appVersion.primary = version.primary
        agent.appVersion.secondary = version.secondary
        agent.appVersion.tertiary = version.tertiary
        agent.mcc = "000"
        agent.mnc = "000"
        agent.osVersion = "0.1"
        agent.manufacturer = ""
        agent.device = "Desktop"
        agent.osBuildNumber = "0.1"
        agent.localeLanguageIso6391 = "en"
        agent.localeCountryIso31661Alpha2 = "US"
        payload.userAgent = agent
        payload.webInfo.webSubPlatform = .webBrowser
        payload.connectType = .wifiUnknown
        payload.connectReason = .userActivated
        return payload
    }

    private static func bigEndian(_ value: UInt32, bytes: Int) -> Data {
        Data((0..<bytes).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * UInt32($0))) })
    }
}
