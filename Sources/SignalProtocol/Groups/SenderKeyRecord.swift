import Foundation
import SwiftProtobuf

/// A sender-key chain step: the seed for one message key and the next chain key.
struct SenderChainKey: Sendable {
    let iteration: UInt32
    let seed: Data

    var next: SenderChainKey { SenderChainKey(iteration: iteration + 1, seed: Primitives.hmac(key: seed, [0x02])) }
    var messageKey: SenderMessageKey { SenderMessageKey(iteration: iteration, seed: Primitives.hmac(key: seed, [0x01])) }
}

struct SenderMessageKey: Sendable {
    let iteration: UInt32
    let seed: Data

    /// IV first, then the AES key: the order libsignal's group cipher uses.
    var ivAndCipherKey: (iv: Data, cipherKey: Data) {
        let derived = Primitives.hkdf(seed, salt: Data(), info: "WhisperGroup", length: 48)
        return (derived.subdata(in: 0..<16), derived.subdata(in: 16..<48))
    }
}

/// One sender's chain in one group, from our point of view.
struct SenderKeyState: Sendable {
    let keyId: UInt32
    var chainKey: SenderChainKey
    let signingPublicKey: ECPublicKey
    /// Present only for our own chains.
    let signingPrivateKey: ECKeyPair?
    var skippedMessageKeys: [SenderMessageKey] = []
}

/// The sender-key chains stored for one (group, sender) pair, newest first.
public struct SenderKeyRecord: Sendable {
    static let maximumStates = 5

    var states: [SenderKeyState] = []

    public init() {}

    public var isEmpty: Bool { states.isEmpty }

    func stateIndex(keyId: UInt32) -> Int? {
        states.firstIndex { $0.keyId == keyId }
    }

    mutating func add(_ state: SenderKeyState) {
        states.insert(state, at: 0)
        if states.count > Self.maximumStates { states.removeLast(states.count - Self.maximumStates) }
    }
}

extension SenderKeyRecord {
    public init(serialized: Data) throws(SignalError) {
        guard let data = try? Signal_Records_SenderKeyRecordData(serializedBytes: serialized) else {
            throw .invalidRecord("sender key record")
        }
        for state in data.states {
            guard state.chainKey.key.count == 32 else { throw .invalidRecord("sender chain key") }
            states.append(
                SenderKeyState(
                    keyId: state.keyID,
                    chainKey: SenderChainKey(iteration: state.chainKey.index, seed: state.chainKey.key),
                    signingPublicKey: try ECPublicKey(rawRepresentation: state.signingPublicKey),
                    signingPrivateKey: state.signingPrivateKey.isEmpty ? nil : try ECKeyPair(privateKey: state.signingPrivateKey),
                    skippedMessageKeys: state.skippedMessageKeys.map { SenderMessageKey(iteration: $0.iteration, seed: $0.seed) }
                ))
        }
    }

    public var serialized: Data {
        var data = Signal_Records_SenderKeyRecordData()
        data.states = states.map { state in
            var record = Signal_Records_SenderKeyStateRecord()
            record.keyID = state.keyId
            record.chainKey.index = state.chainKey.iteration
            record.chainKey.key = state.chainKey.seed
            record.signingPublicKey = state.signingPublicKey.rawRepresentation
            if let privateKey = state.signingPrivateKey { record.signingPrivateKey = privateKey.privateKey.rawRepresentation }
            record.skippedMessageKeys = state.skippedMessageKeys.map { key in
                var keyRecord = Signal_Records_SenderMessageKeyRecord()
                keyRecord.iteration = key.iteration
                keyRecord.seed = key.seed
                return keyRecord
            }
            return record
        }
        return try! data.serializedData()
    }
}
