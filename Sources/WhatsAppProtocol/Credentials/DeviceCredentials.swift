import Crypto
import Foundation
import SignalProtocol

/// The key material a companion device creates once, before its first connection, and keeps
/// for its whole life (whatsmeow store/sqlstore/container.go: NewDevice).
public struct DeviceCredentials: Sendable, Equatable {
    /// The static key of the Noise handshake.
    public var noiseKey: Curve25519.KeyAgreement.PrivateKey
    /// The Signal identity key.
    public var identityKey: Curve25519.KeyAgreement.PrivateKey
    public var registrationID: UInt32
    public var signedPreKey: SignedPreKey
    /// 32 random bytes, shown in the QR code; the phone uses it to authenticate pair-success.
    public var advSecret: Data

    public struct SignedPreKey: Sendable, Equatable {
        public var id: UInt32
        public var privateKey: Curve25519.KeyAgreement.PrivateKey
        /// XEdDSA signature by the identity key over `0x05 || publicKey`.
        public var signature: Data

        public var publicKey: Data { privateKey.publicKey.rawRepresentation }

        public init(id: UInt32, privateKey: Curve25519.KeyAgreement.PrivateKey, signature: Data) {
            self.id = id
            self.privateKey = privateKey
            self.signature = signature
        }

        public static func == (lhs: SignedPreKey, rhs: SignedPreKey) -> Bool {
            lhs.id == rhs.id && lhs.privateKey.rawRepresentation == rhs.privateKey.rawRepresentation && lhs.signature == rhs.signature
        }
    }

    public init(
        noiseKey: Curve25519.KeyAgreement.PrivateKey,
        identityKey: Curve25519.KeyAgreement.PrivateKey,
        registrationID: UInt32,
        signedPreKey: SignedPreKey,
        advSecret: Data
    ) {
        self.noiseKey = noiseKey
        self.identityKey = identityKey
        self.registrationID = registrationID
        self.signedPreKey = signedPreKey
        self.advSecret = advSecret
    }

    /// The key id whatsmeow gives the first signed prekey.
    public static let firstSignedPreKeyID: UInt32 = 1

    /// Fresh credentials: new keys, a random registration id and ADV secret, and signed prekey 1.
    public static func generate<Generator: RandomNumberGenerator>(using generator: inout Generator) -> DeviceCredentials {
        let identityKey = Curve25519.KeyAgreement.PrivateKey()
        return DeviceCredentials(
            noiseKey: Curve25519.KeyAgreement.PrivateKey(),
            identityKey: identityKey,
            registrationID: UInt32.random(in: .min ... .max, using: &generator),
            signedPreKey: signPreKey(id: firstSignedPreKeyID, privateKey: Curve25519.KeyAgreement.PrivateKey(), identityKey: identityKey),
            advSecret: Data((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        )
    }

    public static func generate() -> DeviceCredentials {
        var generator = SystemRandomNumberGenerator()
        return generate(using: &generator)
    }

    /// Signs a prekey the way Signal does: over its 33-byte serialized form, `0x05 || key`.
    public static func signPreKey(
        id: UInt32,
        privateKey: Curve25519.KeyAgreement.PrivateKey,
        identityKey: Curve25519.KeyAgreement.PrivateKey
    ) -> SignedPreKey {
        let serialized = Data([0x05]) + privateKey.publicKey.rawRepresentation
        return SignedPreKey(id: id, privateKey: privateKey, signature: XEdDSA.signature(for: serialized, privateKey: identityKey))
    }

    public static func == (lhs: DeviceCredentials, rhs: DeviceCredentials) -> Bool {
        lhs.noiseKey.rawRepresentation == rhs.noiseKey.rawRepresentation
            && lhs.identityKey.rawRepresentation == rhs.identityKey.rawRepresentation
            && lhs.registrationID == rhs.registrationID
            && lhs.signedPreKey == rhs.signedPreKey
            && lhs.advSecret == rhs.advSecret
    }
}

/// A storable form: raw 32-byte private keys, so any store can keep them as blobs or JSON.
extension DeviceCredentials: Codable {
    private enum CodingKeys: String, CodingKey {
        case noiseKey, identityKey, registrationID, signedPreKeyID, signedPreKey, signedPreKeySignature, advSecret
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func key(_ name: CodingKeys) throws -> Curve25519.KeyAgreement.PrivateKey {
            try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: container.decode(Data.self, forKey: name))
        }
        self.init(
            noiseKey: try key(.noiseKey),
            identityKey: try key(.identityKey),
            registrationID: try container.decode(UInt32.self, forKey: .registrationID),
            signedPreKey: SignedPreKey(
                id: try container.decode(UInt32.self, forKey: .signedPreKeyID),
                privateKey: try key(.signedPreKey),
                signature: try container.decode(Data.self, forKey: .signedPreKeySignature)
            ),
            advSecret: try container.decode(Data.self, forKey: .advSecret)
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(noiseKey.rawRepresentation, forKey: .noiseKey)
        try container.encode(identityKey.rawRepresentation, forKey: .identityKey)
        try container.encode(registrationID, forKey: .registrationID)
        try container.encode(signedPreKey.id, forKey: .signedPreKeyID)
        try container.encode(signedPreKey.privateKey.rawRepresentation, forKey: .signedPreKey)
        try container.encode(signedPreKey.signature, forKey: .signedPreKeySignature)
        try container.encode(advSecret, forKey: .advSecret)
    }
}

/// The same keys in the Signal library's types, for its stores and session builder.
extension DeviceCredentials {
    public var identityKeyPair: IdentityKeyPair { ECKeyPair(privateKey: identityKey) }

    /// The signed prekey as a Signal record; `timestamp` is in milliseconds since 1970.
    public func signedPreKeyRecord(timestamp: UInt64 = 0) -> SignedPreKeyRecord {
        SignedPreKeyRecord(
            id: signedPreKey.id,
            keyPair: ECKeyPair(privateKey: signedPreKey.privateKey),
            signature: signedPreKey.signature,
            timestamp: timestamp
        )
    }
}
