import Crypto
import Foundation
import SignalProtocol
import SwiftProtobuf

/// A companion the phone has linked; `Codable` so a store can keep it (JIDs as strings).
public struct PairedDevice: Sendable, Equatable, Codable {
    /// Our phone-number device JID (`user:device@s.whatsapp.net`).
    public var jid: JID
    /// Our LID device JID, when the server sent one.
    public var lid: JID?
    public var businessName: String
    /// The primary phone's platform name, as the server sends it.
    public var platform: String
    /// Our `ADVSignedDeviceIdentity` with the account key and our device signature; later sent
    /// as `<device-identity>` with prekey messages.
    public var account: Data
    /// The main device's identity key: the account signature key.
    public var primaryIdentityKey: Data

    public init(jid: JID, lid: JID?, businessName: String, platform: String, account: Data, primaryIdentityKey: Data) {
        self.jid = jid
        self.lid = lid
        self.businessName = businessName
        self.platform = platform
        self.account = account
        self.primaryIdentityKey = primaryIdentityKey
    }
}

/// Why a pair-success was refused, with the error code and text the server expects back
/// (whatsmeow pair.go: handlePair, sendPairError).
public enum PairingFailure: Error, Equatable, Sendable {
    case malformed
    case hmacMismatch
    case signatureMismatch

    public var code: Int {
        switch self {
        case .malformed: 500
        case .hmacMismatch, .signatureMismatch: 401
        }
    }

    public var text: String {
        switch self {
        case .malformed: "internal-error"
        case .hmacMismatch: "hmac-mismatch"
        case .signatureMismatch: "signature-mismatch"
        }
    }
}

/// Verifies the phone's `pair-success` and countersigns our device identity.
public enum PairSuccess {
    static let accountSignaturePrefix = Data([6, 0])
    static let deviceSignaturePrefix = Data([6, 1])
    static let hostedAccountSignaturePrefix = Data([6, 5])

    public struct Outcome: Sendable {
        public let device: PairedDevice
        /// `<iq type="result"><pair-device-sign><device-identity key-index=…>` to send back.
        public let reply: BinaryNode
    }

    /// Checks the HMAC (ADV secret) and the account signature over our identity key, then
    /// signs the device identity with our identity key.
    public static func complete(_ stanza: BinaryNode, credentials: DeviceCredentials) throws(PairingFailure) -> Outcome {
        guard stanza.tag == "iq", let id = stanza.attributes.string("id"),
            let success = stanza.child("pair-success"),
            let containerBytes = success.child("device-identity")?.contentBytes,
            let jid = success.child("device")?.attributes.jid("jid")
        else { throw .malformed }

        guard let container = try? WAADVSignedDeviceIdentityHMAC(serializedBytes: containerBytes) else { throw .malformed }
        let hmacPrefix = container.accountType == .hosted ? hostedAccountSignaturePrefix : Data()
        guard
            HMAC<SHA256>.isValidAuthenticationCode(
                container.hmac, authenticating: hmacPrefix + container.details, using: SymmetricKey(data: credentials.advSecret))
        else {
            throw .hmacMismatch
        }
        guard var signed = try? WAADVSignedDeviceIdentity(serializedBytes: container.details),
            let identity = try? WAADVDeviceIdentity(serializedBytes: signed.details)
        else { throw .malformed }

        let ourIdentity = credentials.identityKey.publicKey.rawRepresentation
        guard signed.accountSignatureKey.count == 32, signed.accountSignature.count == XEdDSA.signatureLength,
            let accountKey = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: signed.accountSignatureKey)
        else { throw .signatureMismatch }
        let accountPrefix = identity.deviceType == .hosted ? hostedAccountSignaturePrefix : accountSignaturePrefix
        guard XEdDSA.isValid(signature: signed.accountSignature, for: accountPrefix + signed.details + ourIdentity, publicKey: accountKey) else {
            throw .signatureMismatch
        }
        signed.deviceSignature = XEdDSA.signature(
            for: deviceSignaturePrefix + signed.details + ourIdentity + signed.accountSignatureKey,
            privateKey: credentials.identityKey
        )

        let primaryIdentityKey = signed.accountSignatureKey
        guard let account = try? signed.serializedData() else { throw .malformed }
        // The phone already knows its own key: the reply leaves it out.
        signed.clearAccountSignatureKey()
        guard let selfSigned = try? signed.serializedData() else { throw .malformed }

        let device = success.child("device")
        let reply = BinaryNode(
            tag: "iq", attributes: ["to": .jid(.server), "type": "result", "id": .string(id)],
            children: [
                BinaryNode(
                    tag: "pair-device-sign",
                    children: [
                        BinaryNode(tag: "device-identity", attributes: ["key-index": .string(String(identity.keyIndex))], content: .bytes(selfSigned))
                    ])
            ])
        return Outcome(
            device: PairedDevice(
                jid: jid,
                lid: device?.attributes.jid("lid"),
                businessName: success.child("biz")?.attributes.string("name") ?? "",
                platform: success.child("platform")?.attributes.string("name") ?? "",
                account: account,
                primaryIdentityKey: primaryIdentityKey
            ),
            reply: reply
        )
    }

    /// The error reply for a refused pair-success with request id `id`.
    public static func errorReply(_ failure: PairingFailure, id: String) -> BinaryNode {
        BinaryNode(
            tag: "iq", attributes: ["to": .jid(.server), "type": "error", "id": .string(id)],
            children: [
                BinaryNode(tag: "error", attributes: ["code": .string(String(failure.code)), "text": .string(failure.text)])
            ])
    }

    /// The immediate acknowledgement of a `pair-device` IQ.
    public static func acknowledgement(ofPairDevice stanza: BinaryNode) -> BinaryNode? {
        guard let id = stanza.attributes.string("id") else { return nil }
        return BinaryNode(tag: "iq", attributes: ["to": .jid(.server), "id": .string(id), "type": "result"])
    }
}
