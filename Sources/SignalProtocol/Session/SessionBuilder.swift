import Foundation

/// Starts sessions: as initiator from a prekey bundle, as responder from the first
/// PreKeySignalMessage (the latter happens inside `SessionCipher.decrypt`).
public struct SessionBuilder<Store: SignalProtocolStore>: Sendable {
    public let store: Store
    public let address: ProtocolAddress

    public init(store: Store, address: ProtocolAddress) {
        self.store = store
        self.address = address
    }

    /// X3DH as initiator: verifies the bundle's signed prekey, derives the session and stores
    /// it. Messages encrypted afterwards are PreKeySignalMessages until the other side replies.
    public func process(_ bundle: PreKeyBundle) async throws {
        guard try await store.isTrustedIdentity(bundle.identityKey, for: address, direction: .sending) else {
            throw SignalError.untrustedIdentity(address)
        }
        guard bundle.identityKey.isValid(signature: bundle.signedPreKeySignature, for: bundle.signedPreKeyPublic.serialized) else {
            throw SignalError.invalidSignature
        }
        let baseKey = ECKeyPair.generate()
        var state = try SessionState.initiator(
            ourIdentity: try await store.identityKeyPair(),
            ourBaseKey: baseKey,
            theirIdentity: bundle.identityKey,
            theirSignedPreKey: bundle.signedPreKeyPublic,
            theirOneTimePreKey: bundle.preKeyPublic
        )
        state.pendingPreKey = PendingPreKey(
            preKeyId: bundle.preKeyPublic == nil ? nil : bundle.preKeyId,
            signedPreKeyId: bundle.signedPreKeyId,
            baseKey: baseKey.publicKey
        )
        state.localRegistrationId = try await store.localRegistrationId()
        state.remoteRegistrationId = bundle.registrationId
        state.aliceBaseKey = baseKey.publicKey

        var record = try await store.loadSession(for: address) ?? SessionRecord()
        record.promote(state)
        try await store.storeSession(record, for: address)
        try await store.saveIdentity(bundle.identityKey, for: address)
    }

    /// X3DH as responder. Returns the one-time prekey id the message consumed (to delete once
    /// the message decrypts), or nil when the message belongs to a session already set up.
    func process(_ message: PreKeySignalMessage, into record: inout SessionRecord) async throws -> UInt32?? {
        guard try await store.isTrustedIdentity(message.identityKey, for: address, direction: .receiving) else {
            throw SignalError.untrustedIdentity(address)
        }
        // A retransmitted PreKeySignalMessage for a session we already built.
        if record.hasState(withBaseKey: message.baseKey) { return .none }

        guard let signedPreKey = try await store.loadSignedPreKey(id: message.signedPreKeyId) else {
            throw SignalError.unknownSignedPreKey(message.signedPreKeyId)
        }
        var oneTimePreKey: PreKeyRecord?
        if let preKeyId = message.preKeyId {
            guard let preKey = try await store.loadPreKey(id: preKeyId) else { throw SignalError.unknownPreKey(preKeyId) }
            oneTimePreKey = preKey
        }
        var state = try SessionState.responder(
            ourIdentity: try await store.identityKeyPair(),
            ourSignedPreKey: signedPreKey.keyPair,
            ourOneTimePreKey: oneTimePreKey?.keyPair,
            theirIdentity: message.identityKey,
            theirBaseKey: message.baseKey
        )
        state.localRegistrationId = try await store.localRegistrationId()
        state.remoteRegistrationId = message.registrationId
        state.aliceBaseKey = message.baseKey
        record.promote(state)
        return .some(message.preKeyId)
    }
}
