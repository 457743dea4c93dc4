import Foundation
import SwiftProtobuf

/// Hands a sender's chain key and signing key to a group member (sent inside 1:1 sessions).
public struct SenderKeyDistributionMessage: Sendable {
    public let keyId: UInt32
    public let iteration: UInt32
    public let chainKey: Data
    public let signingKey: ECPublicKey
    public let serialized: Data

    init(keyId: UInt32, iteration: UInt32, chainKey: Data, signingKey: ECPublicKey) {
        var body = Signal_Wire_SenderKeyDistributionMessage()
        body.id = keyId
        body.iteration = iteration
        body.chainKey = chainKey
        body.signingKey = signingKey.serialized
        self.keyId = keyId
        self.iteration = iteration
        self.chainKey = chainKey
        self.signingKey = signingKey
        serialized = Data([MessageVersion.byte]) + (try! body.serializedData())
    }

    public init(serialized: Data) throws(SignalError) {
        let bytes = Data(serialized)
        try MessageVersion.check(bytes.first)
        guard let body = try? Signal_Wire_SenderKeyDistributionMessage(serializedBytes: Data(bytes.dropFirst())),
            body.hasID, body.hasIteration, body.hasChainKey, body.hasSigningKey, body.chainKey.count == 32
        else { throw .invalidMessage("incomplete SenderKeyDistributionMessage") }
        keyId = body.id
        iteration = body.iteration
        chainKey = body.chainKey
        signingKey = try ECPublicKey(serialized: body.signingKey)
        self.serialized = bytes
    }
}

/// A group message: version byte, protobuf body and an XEdDSA signature over both.
public struct SenderKeyMessage: Sendable {
    public static let signatureLength = 64

    public let keyId: UInt32
    public let iteration: UInt32
    public let ciphertext: Data
    public let serialized: Data

    init(keyId: UInt32, iteration: UInt32, ciphertext: Data, signingKey: ECKeyPair) {
        var body = Signal_Wire_SenderKeyMessage()
        body.id = keyId
        body.iteration = iteration
        body.ciphertext = ciphertext
        let unsigned = Data([MessageVersion.byte]) + (try! body.serializedData())
        self.keyId = keyId
        self.iteration = iteration
        self.ciphertext = ciphertext
        serialized = unsigned + signingKey.signature(for: unsigned)
    }

    public init(serialized: Data) throws(SignalError) {
        let bytes = Data(serialized)
        guard bytes.count > 1 + Self.signatureLength else { throw .invalidMessage("SenderKeyMessage too short") }
        try MessageVersion.check(bytes.first)
        let body = bytes.dropFirst().dropLast(Self.signatureLength)
        guard let message = try? Signal_Wire_SenderKeyMessage(serializedBytes: Data(body)),
            message.hasID, message.hasIteration, message.hasCiphertext
        else { throw .invalidMessage("incomplete SenderKeyMessage") }
        keyId = message.id
        iteration = message.iteration
        ciphertext = message.ciphertext
        self.serialized = bytes
    }

    func verifySignature(_ signingKey: ECPublicKey) throws(SignalError) {
        let unsigned = serialized.dropLast(Self.signatureLength)
        guard signingKey.isValid(signature: serialized.suffix(Self.signatureLength), for: unsigned) else {
            throw .invalidSignature
        }
    }
}
