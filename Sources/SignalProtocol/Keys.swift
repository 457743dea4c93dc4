import Crypto
import Foundation

/// A Curve25519 public key as Signal serializes it: a 0x05 type byte and the 32-byte
/// X25519 u-coordinate.
public struct ECPublicKey: Sendable, Hashable {
    public static let typeByte: UInt8 = 0x05
    public static let serializedLength = 33

    public let key: Curve25519.KeyAgreement.PublicKey
    /// The 32-byte key without the type byte.
    public let rawRepresentation: Data

    public init(_ key: Curve25519.KeyAgreement.PublicKey) {
        self.key = key
        rawRepresentation = key.rawRepresentation
    }

    public init(rawRepresentation: some DataProtocol) throws(SignalError) {
        guard rawRepresentation.count == 32,
            let key = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: Data(rawRepresentation))
        else { throw .invalidKey }
        self.init(key)
    }

    /// Parses the 33-byte form, checking the type byte.
    public init(serialized: some DataProtocol) throws(SignalError) {
        let bytes = Data(serialized)
        guard bytes.count == Self.serializedLength, bytes.first == Self.typeByte else { throw .invalidKey }
        try self.init(rawRepresentation: bytes.dropFirst())
    }

    /// The 33-byte form with the 0x05 type byte, as carried in messages and bundles.
    public var serialized: Data { Data([Self.typeByte]) + rawRepresentation }

    public func isValid(signature: some DataProtocol, for message: some DataProtocol) -> Bool {
        XEdDSA.isValid(signature: signature, for: message, publicKey: key)
    }

    public static func == (lhs: ECPublicKey, rhs: ECPublicKey) -> Bool {
        lhs.rawRepresentation == rhs.rawRepresentation
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(rawRepresentation)
    }
}

/// A Curve25519 key pair used both for X25519 agreement and for XEdDSA signatures.
public struct ECKeyPair: Sendable {
    public let privateKey: Curve25519.KeyAgreement.PrivateKey
    public let publicKey: ECPublicKey

    public init(privateKey: Curve25519.KeyAgreement.PrivateKey) {
        self.privateKey = privateKey
        publicKey = ECPublicKey(privateKey.publicKey)
    }

    public init(privateKey rawRepresentation: some DataProtocol) throws(SignalError) {
        guard rawRepresentation.count == 32,
            let key = try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: Data(rawRepresentation))
        else { throw .invalidKey }
        self.init(privateKey: key)
    }

    public static func generate() -> ECKeyPair {
        ECKeyPair(privateKey: Curve25519.KeyAgreement.PrivateKey())
    }

    /// The raw X25519 shared secret with `publicKey`. A secret of all zeros (a low-order
    /// public key) is refused: it would make every derived key known to anyone.
    public func agreement(with publicKey: ECPublicKey) throws(SignalError) -> Data {
        guard let secret = try? privateKey.sharedSecretFromKeyAgreement(with: publicKey.key) else { throw .invalidKey }
        let bytes = secret.withUnsafeBytes { Data($0) }
        // OR of all bytes, no early exit: the secret's bytes decide nothing but the final test.
        guard bytes.reduce(0, |) != 0 else { throw .invalidKey }
        return bytes
    }

    public func signature(for message: some DataProtocol) -> Data {
        XEdDSA.signature(for: message, privateKey: privateKey)
    }
}

/// A device's long-term identity.
public typealias IdentityKeyPair = ECKeyPair

/// A one-time prekey: used for at most one incoming session, then deleted.
public struct PreKeyRecord: Sendable {
    public let id: UInt32
    public let keyPair: ECKeyPair

    public init(id: UInt32, keyPair: ECKeyPair) {
        self.id = id
        self.keyPair = keyPair
    }
}

/// The medium-term prekey, signed by the identity key over its 33-byte serialized form.
public struct SignedPreKeyRecord: Sendable {
    public let id: UInt32
    public let keyPair: ECKeyPair
    public let signature: Data
    /// Milliseconds since 1970, when the key was generated.
    public let timestamp: UInt64

    public init(id: UInt32, keyPair: ECKeyPair, signature: Data, timestamp: UInt64) {
        self.id = id
        self.keyPair = keyPair
        self.signature = signature
        self.timestamp = timestamp
    }
}

/// What a server hands out so another device can start a session without a round trip.
public struct PreKeyBundle: Sendable {
    public var registrationId: UInt32
    public var deviceId: UInt32
    public var preKeyId: UInt32?
    public var preKeyPublic: ECPublicKey?
    public var signedPreKeyId: UInt32
    public var signedPreKeyPublic: ECPublicKey
    public var signedPreKeySignature: Data
    public var identityKey: ECPublicKey

    public init(
        registrationId: UInt32, deviceId: UInt32, preKeyId: UInt32?, preKeyPublic: ECPublicKey?,
        signedPreKeyId: UInt32, signedPreKeyPublic: ECPublicKey, signedPreKeySignature: Data, identityKey: ECPublicKey
    ) {
        self.registrationId = registrationId
        self.deviceId = deviceId
        self.preKeyId = preKeyId
        self.preKeyPublic = preKeyPublic
        self.signedPreKeyId = signedPreKeyId
        self.signedPreKeyPublic = signedPreKeyPublic
        self.signedPreKeySignature = signedPreKeySignature
        self.identityKey = identityKey
    }
}

/// Generation of the keys a device publishes.
public enum KeyHelper {
    /// Prekey ids live in 24 bits and wrap around, skipping zero.
    public static let preKeyIdLimit: UInt32 = 0xFF_FFFF

    public static func generateIdentityKeyPair() -> IdentityKeyPair { .generate() }

    /// A registration id in 1...16380, as libsignal and WhatsApp use.
    public static func generateRegistrationId() -> UInt32 {
        UInt32.random(in: 1...16380)
    }

    /// `count` one-time prekeys with consecutive ids from `start`, wrapping within 1...0xFFFFFF.
    public static func generatePreKeys(start: UInt32, count: Int) -> [PreKeyRecord] {
        (0..<count).map { offset in
            let id = (start &- 1 &+ UInt32(offset)) % preKeyIdLimit + 1
            return PreKeyRecord(id: id, keyPair: .generate())
        }
    }

    public static func generateSignedPreKey(identity: IdentityKeyPair, id: UInt32, timestamp: Date = Date()) -> SignedPreKeyRecord {
        let keyPair = ECKeyPair.generate()
        return SignedPreKeyRecord(
            id: id,
            keyPair: keyPair,
            signature: identity.signature(for: keyPair.publicKey.serialized),
            timestamp: UInt64(max(0, timestamp.timeIntervalSince1970 * 1000))
        )
    }

    /// A random 31-bit sender-key id.
    public static func generateSenderKeyId() -> UInt32 {
        UInt32.random(in: 0...Int32.max.magnitude)
    }
}
