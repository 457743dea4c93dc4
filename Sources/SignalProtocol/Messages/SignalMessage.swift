import Foundation
import SwiftProtobuf

/// The version byte every v3 message starts with: the message version in the high nibble
/// and the highest version the sender supports in the low one.
enum MessageVersion {
    static let current: UInt8 = 3
    static let byte: UInt8 = current << 4 | current

    /// Accepts only version 3 in the high nibble, whatever the sender's maximum.
    static func check(_ byte: UInt8?) throws(SignalError) {
        guard let byte else { throw .invalidMessage("empty message") }
        guard byte >> 4 == current else { throw .invalidVersion(byte) }
    }
}

/// A Double Ratchet message: version byte, protobuf body and an 8-byte truncated HMAC-SHA256
/// over both identities and the preceding bytes.
public struct SignalMessage: Sendable {
    public static let macLength = 8

    public let senderRatchetKey: ECPublicKey
    public let counter: UInt32
    public let previousCounter: UInt32
    public let ciphertext: Data
    /// The complete wire form, MAC included.
    public let serialized: Data

    init(
        macKey: Data, senderRatchetKey: ECPublicKey, counter: UInt32, previousCounter: UInt32, ciphertext: Data,
        senderIdentity: ECPublicKey, receiverIdentity: ECPublicKey
    ) {
        var body = Signal_Wire_SignalMessage()
        body.ratchetKey = senderRatchetKey.serialized
        body.counter = counter
        body.previousCounter = previousCounter
        body.ciphertext = ciphertext
        // Serializing a message built here from plain fields cannot fail.
        let unsigned = Data([MessageVersion.byte]) + (try! body.serializedData())
        self.senderRatchetKey = senderRatchetKey
        self.counter = counter
        self.previousCounter = previousCounter
        self.ciphertext = ciphertext
        serialized = unsigned + Self.mac(unsigned, senderIdentity: senderIdentity, receiverIdentity: receiverIdentity, macKey: macKey)
    }

    public init(serialized: Data) throws(SignalError) {
        let bytes = Data(serialized)
        guard bytes.count > 1 + Self.macLength else { throw .invalidMessage("SignalMessage too short") }
        try MessageVersion.check(bytes.first)
        let body = bytes.dropFirst().dropLast(Self.macLength)
        guard let message = try? Signal_Wire_SignalMessage(serializedBytes: Data(body)),
            message.hasRatchetKey, message.hasCounter, message.hasCiphertext
        else { throw .invalidMessage("incomplete SignalMessage") }
        senderRatchetKey = try ECPublicKey(serialized: message.ratchetKey)
        counter = message.counter
        previousCounter = message.previousCounter
        ciphertext = message.ciphertext
        self.serialized = bytes
    }

    func verifyMAC(senderIdentity: ECPublicKey, receiverIdentity: ECPublicKey, macKey: Data) throws(SignalError) {
        let unsigned = serialized.dropLast(Self.macLength)
        let expected = Self.mac(unsigned, senderIdentity: senderIdentity, receiverIdentity: receiverIdentity, macKey: macKey)
        guard Primitives.constantTimeEqual(expected, serialized.suffix(Self.macLength)) else { throw .invalidMAC }
    }

    private static func mac(_ unsigned: Data, senderIdentity: ECPublicKey, receiverIdentity: ECPublicKey, macKey: Data) -> Data {
        let full = Primitives.hmac(key: macKey, senderIdentity.serialized + receiverIdentity.serialized + unsigned)
        return full.prefix(macLength)
    }
}

/// The first messages of a session the sender started from a prekey bundle: the X3DH inputs
/// the receiver needs, wrapped around an ordinary SignalMessage.
public struct PreKeySignalMessage: Sendable {
    public let registrationId: UInt32
    public let preKeyId: UInt32?
    public let signedPreKeyId: UInt32
    public let baseKey: ECPublicKey
    public let identityKey: ECPublicKey
    public let message: SignalMessage
    public let serialized: Data

    init(
        registrationId: UInt32, preKeyId: UInt32?, signedPreKeyId: UInt32,
        baseKey: ECPublicKey, identityKey: ECPublicKey, message: SignalMessage
    ) {
        var body = Signal_Wire_PreKeySignalMessage()
        body.registrationID = registrationId
        if let preKeyId { body.preKeyID = preKeyId }
        body.signedPreKeyID = signedPreKeyId
        body.baseKey = baseKey.serialized
        body.identityKey = identityKey.serialized
        body.message = message.serialized
        self.registrationId = registrationId
        self.preKeyId = preKeyId
        self.signedPreKeyId = signedPreKeyId
        self.baseKey = baseKey
        self.identityKey = identityKey
        self.message = message
        serialized = Data([MessageVersion.byte]) + (try! body.serializedData())
    }

    public init(serialized: Data) throws(SignalError) {
        let bytes = Data(serialized)
        try MessageVersion.check(bytes.first)
        guard let body = try? Signal_Wire_PreKeySignalMessage(serializedBytes: Data(bytes.dropFirst())),
            body.hasSignedPreKeyID, body.hasBaseKey, body.hasIdentityKey, body.hasMessage
        else { throw .invalidMessage("incomplete PreKeySignalMessage") }
        registrationId = body.registrationID
        preKeyId = body.hasPreKeyID ? body.preKeyID : nil
        signedPreKeyId = body.signedPreKeyID
        baseKey = try ECPublicKey(serialized: body.baseKey)
        identityKey = try ECPublicKey(serialized: body.identityKey)
        message = try SignalMessage(serialized: body.message)
        self.serialized = bytes
    }
}

/// What `SessionCipher.encrypt` produces: WhatsApp calls these "pkmsg" and "msg".
public enum CiphertextMessage: Sendable {
    case preKey(PreKeySignalMessage)
    case whisper(SignalMessage)

    public var serialized: Data {
        switch self {
        case .preKey(let message): message.serialized
        case .whisper(let message): message.serialized
        }
    }

    /// The `type` attribute WhatsApp puts on the <enc> node.
    public var whatsAppType: String {
        switch self {
        case .preKey: "pkmsg"
        case .whisper: "msg"
        }
    }
}
