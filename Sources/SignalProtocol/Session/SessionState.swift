import Foundation

/// The chain this side sends on: our current ratchet key pair and its chain key.
struct SenderChain: Sendable {
    var ratchetKeyPair: ECKeyPair
    var chainKey: ChainKey
}

/// A chain the other side sends on, keyed by their ratchet public key, with the message keys
/// of messages skipped so far (kept so they can still be decrypted when they arrive late).
struct ReceiverChain: Sendable {
    var ratchetKey: ECPublicKey
    var chainKey: ChainKey
    var skippedMessageKeys: [MessageKeys]
}

/// The X3DH inputs the initiator repeats in every message until the responder answers.
struct PendingPreKey: Sendable {
    var preKeyId: UInt32?
    var signedPreKeyId: UInt32
    var baseKey: ECPublicKey
}

/// One Double Ratchet session with one remote device.
struct SessionState: Sendable {
    /// Receiver chains kept for late messages from earlier ratchet steps.
    static let maximumReceiverChains = 5

    var version: UInt8 = MessageVersion.current
    var localIdentity: ECPublicKey
    var remoteIdentity: ECPublicKey
    var rootKey: RootKey
    var previousCounter: UInt32 = 0
    var senderChain: SenderChain
    /// Oldest first.
    var receiverChains: [ReceiverChain] = []
    var pendingPreKey: PendingPreKey?
    var localRegistrationId: UInt32 = 0
    var remoteRegistrationId: UInt32 = 0
    /// The initiator's X3DH base key: identifies the session a PreKeySignalMessage belongs to.
    var aliceBaseKey: ECPublicKey?

    func receiverChainIndex(for ratchetKey: ECPublicKey) -> Int? {
        receiverChains.lastIndex { $0.ratchetKey == ratchetKey }
    }

    mutating func addReceiverChain(ratchetKey: ECPublicKey, chainKey: ChainKey) {
        receiverChains.append(ReceiverChain(ratchetKey: ratchetKey, chainKey: chainKey, skippedMessageKeys: []))
        if receiverChains.count > Self.maximumReceiverChains {
            receiverChains.removeFirst(receiverChains.count - Self.maximumReceiverChains)
        }
    }
}

extension SessionState {
    /// The X3DH master secret: 32 0xFF bytes (domain separation from the curve25519 key
    /// format) followed by the three or four agreements, in the order both sides compute them.
    private static func deriveInitialKeys(_ agreements: [Data]) -> (RootKey, ChainKey) {
        let secret = Data(repeating: 0xFF, count: 32) + agreements.reduce(Data(), +)
        let derived = Primitives.hkdf(secret, salt: Data(count: 32), info: "WhisperText", length: 64)
        return (RootKey(key: derived.subdata(in: 0..<32)), ChainKey(key: derived.subdata(in: 32..<64), index: 0))
    }

    /// The initiator's side of X3DH, from the responder's published prekeys.
    static func initiator(
        ourIdentity: IdentityKeyPair, ourBaseKey: ECKeyPair,
        theirIdentity: ECPublicKey, theirSignedPreKey: ECPublicKey, theirOneTimePreKey: ECPublicKey?
    ) throws(SignalError) -> SessionState {
        var agreements = [
            try ourIdentity.agreement(with: theirSignedPreKey),
            try ourBaseKey.agreement(with: theirIdentity),
            try ourBaseKey.agreement(with: theirSignedPreKey),
        ]
        if let theirOneTimePreKey { agreements.append(try ourBaseKey.agreement(with: theirOneTimePreKey)) }
        let (rootKey, receivingChainKey) = deriveInitialKeys(agreements)
        // The responder's signed prekey doubles as its first ratchet key, so the initiator can
        // take a DH ratchet step at once and send on a fresh chain.
        let sendingRatchetKey = ECKeyPair.generate()
        let (nextRootKey, sendingChainKey) = try rootKey.createChain(theirRatchetKey: theirSignedPreKey, ourRatchetKey: sendingRatchetKey)
        var state = SessionState(
            localIdentity: ourIdentity.publicKey,
            remoteIdentity: theirIdentity,
            rootKey: nextRootKey,
            senderChain: SenderChain(ratchetKeyPair: sendingRatchetKey, chainKey: sendingChainKey)
        )
        state.addReceiverChain(ratchetKey: theirSignedPreKey, chainKey: receivingChainKey)
        return state
    }

    /// The responder's side of X3DH, from an incoming PreKeySignalMessage.
    static func responder(
        ourIdentity: IdentityKeyPair, ourSignedPreKey: ECKeyPair, ourOneTimePreKey: ECKeyPair?,
        theirIdentity: ECPublicKey, theirBaseKey: ECPublicKey
    ) throws(SignalError) -> SessionState {
        var agreements = [
            try ourSignedPreKey.agreement(with: theirIdentity),
            try ourIdentity.agreement(with: theirBaseKey),
            try ourSignedPreKey.agreement(with: theirBaseKey),
        ]
        if let ourOneTimePreKey { agreements.append(try ourOneTimePreKey.agreement(with: theirBaseKey)) }
        let (rootKey, sendingChainKey) = deriveInitialKeys(agreements)
        return SessionState(
            localIdentity: ourIdentity.publicKey,
            remoteIdentity: theirIdentity,
            rootKey: rootKey,
            senderChain: SenderChain(ratchetKeyPair: ourSignedPreKey, chainKey: sendingChainKey)
        )
    }
}
