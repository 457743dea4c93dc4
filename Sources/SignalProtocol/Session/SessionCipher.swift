import Foundation

/// Encrypts and decrypts the messages of the 1:1 session with one remote device.
///
/// The cipher reads the session record, works on a copy and stores it only when the whole
/// operation succeeded, so a forged or corrupted message never changes the session. Calls
/// for the same address must not overlap (the gateway serializes them per chat).
public struct SessionCipher<Store: SignalProtocolStore>: Sendable {
    /// libsignal's bound on how far ahead of its chain a message may be.
    public static var defaultMaximumSkippedMessages: Int { 2000 }

    public let store: Store
    public let address: ProtocolAddress
    /// The most message keys skipped (and kept) in one chain; messages further ahead fail
    /// with `tooManySkippedMessages`.
    public let maximumSkippedMessages: Int

    public init(store: Store, address: ProtocolAddress, maximumSkippedMessages: Int = Self.defaultMaximumSkippedMessages) {
        self.store = store
        self.address = address
        self.maximumSkippedMessages = maximumSkippedMessages
    }

    public func encrypt(_ plaintext: some DataProtocol) async throws -> CiphertextMessage {
        guard var record = try await store.loadSession(for: address), var state = record.current else {
            throw SignalError.noSession(address)
        }
        guard try await store.isTrustedIdentity(state.remoteIdentity, for: address, direction: .sending) else {
            throw SignalError.untrustedIdentity(address)
        }
        let chainKey = state.senderChain.chainKey
        let keys = chainKey.messageKeys
        let message = SignalMessage(
            macKey: keys.macKey,
            senderRatchetKey: state.senderChain.ratchetKeyPair.publicKey,
            counter: chainKey.index,
            previousCounter: state.previousCounter,
            ciphertext: Primitives.encrypt(plaintext, key: keys.cipherKey, iv: keys.iv),
            senderIdentity: state.localIdentity,
            receiverIdentity: state.remoteIdentity
        )
        let result: CiphertextMessage
        if let pending = state.pendingPreKey {
            result = .preKey(
                PreKeySignalMessage(
                    registrationId: state.localRegistrationId,
                    preKeyId: pending.preKeyId,
                    signedPreKeyId: pending.signedPreKeyId,
                    baseKey: pending.baseKey,
                    identityKey: state.localIdentity,
                    message: message
                ))
        } else {
            result = .whisper(message)
        }
        state.senderChain.chainKey = chainKey.next
        record.current = state
        try await store.storeSession(record, for: address)
        return result
    }

    /// Decrypts the first messages of a session the other side started, creating it if needed.
    public func decrypt(_ message: PreKeySignalMessage) async throws -> Data {
        var record = try await store.loadSession(for: address) ?? SessionRecord()
        let builder = SessionBuilder(store: store, address: address)
        let consumedPreKey = try await builder.process(message, into: &record)
        let plaintext = try decrypt(message.message, in: &record)
        try await store.saveIdentity(message.identityKey, for: address)
        try await store.storeSession(record, for: address)
        if case .some(.some(let preKeyId)) = consumedPreKey {
            try await store.removePreKey(id: preKeyId)
        }
        return plaintext
    }

    public func decrypt(_ message: SignalMessage) async throws -> Data {
        guard var record = try await store.loadSession(for: address), record.current != nil else {
            throw SignalError.noSession(address)
        }
        let plaintext = try decrypt(message, in: &record)
        guard let remoteIdentity = record.current?.remoteIdentity,
            try await store.isTrustedIdentity(remoteIdentity, for: address, direction: .receiving)
        else { throw SignalError.untrustedIdentity(address) }
        try await store.saveIdentity(remoteIdentity, for: address)
        try await store.storeSession(record, for: address)
        return plaintext
    }

    /// Decrypts a serialized message of either kind, as WhatsApp labels them ("pkmsg"/"msg").
    public func decrypt(serialized: Data, isPreKeyMessage: Bool) async throws -> Data {
        isPreKeyMessage
            ? try await decrypt(PreKeySignalMessage(serialized: serialized))
            : try await decrypt(SignalMessage(serialized: serialized))
    }

    /// Tries the current state, then the archived ones; a state that decrypts becomes current.
    private func decrypt(_ message: SignalMessage, in record: inout SessionRecord) throws(SignalError) -> Data {
        guard let current = record.current else { throw .noSession(address) }
        let firstError: SignalError
        do {
            var state = current
            let plaintext = try decrypt(message, in: &state)
            record.current = state
            return plaintext
        } catch {
            firstError = error
        }
        for index in record.previous.indices {
            var state = record.previous[index]
            guard let plaintext = try? decrypt(message, in: &state) else { continue }
            record.previous.remove(at: index)
            record.promote(state)
            return plaintext
        }
        // What went wrong with the current session is the most useful answer.
        throw firstError
    }

    private func decrypt(_ message: SignalMessage, in state: inout SessionState) throws(SignalError) -> Data {
        let theirRatchetKey = message.senderRatchetKey
        let chainIndex = try receiverChainIndex(for: theirRatchetKey, in: &state)
        let keys = try messageKeys(for: message.counter, chainIndex: chainIndex, in: &state)
        try message.verifyMAC(senderIdentity: state.remoteIdentity, receiverIdentity: state.localIdentity, macKey: keys.macKey)
        let plaintext = try Primitives.decrypt(message.ciphertext, key: keys.cipherKey, iv: keys.iv)
        // Their reply proves they built the session: no more PreKeySignalMessages.
        state.pendingPreKey = nil
        return plaintext
    }

    /// The receiver chain for `theirRatchetKey`, taking a DH ratchet step when it is new.
    private func receiverChainIndex(for theirRatchetKey: ECPublicKey, in state: inout SessionState) throws(SignalError) -> Int {
        if let index = state.receiverChainIndex(for: theirRatchetKey) { return index }
        let (rootKey, receivingChainKey) = try state.rootKey.createChain(
            theirRatchetKey: theirRatchetKey, ourRatchetKey: state.senderChain.ratchetKeyPair)
        let ourNewRatchetKey = ECKeyPair.generate()
        let (nextRootKey, sendingChainKey) = try rootKey.createChain(theirRatchetKey: theirRatchetKey, ourRatchetKey: ourNewRatchetKey)
        state.rootKey = nextRootKey
        state.addReceiverChain(ratchetKey: theirRatchetKey, chainKey: receivingChainKey)
        let sentOnOldChain = state.senderChain.chainKey.index
        state.previousCounter = sentOnOldChain > 0 ? sentOnOldChain - 1 : 0
        state.senderChain = SenderChain(ratchetKeyPair: ourNewRatchetKey, chainKey: sendingChainKey)
        return state.receiverChains.count - 1
    }

    /// The keys for `counter`: from the skipped keys when it is behind the chain, otherwise by
    /// advancing the chain and keeping the keys of the messages jumped over.
    private func messageKeys(for counter: UInt32, chainIndex: Int, in state: inout SessionState) throws(SignalError) -> MessageKeys {
        var chain = state.receiverChains[chainIndex]
        if chain.chainKey.index > counter {
            guard let skipped = chain.skippedMessageKeys.firstIndex(where: { $0.index == counter }) else {
                throw .duplicateMessage
            }
            let keys = chain.skippedMessageKeys.remove(at: skipped)
            state.receiverChains[chainIndex] = chain
            return keys
        }
        guard Int(counter - chain.chainKey.index) <= maximumSkippedMessages else { throw .tooManySkippedMessages }
        var chainKey = chain.chainKey
        while chainKey.index < counter {
            chain.skippedMessageKeys.append(chainKey.messageKeys)
            chainKey = chainKey.next
        }
        if chain.skippedMessageKeys.count > maximumSkippedMessages {
            chain.skippedMessageKeys.removeFirst(chain.skippedMessageKeys.count - maximumSkippedMessages)
        }
        chain.chainKey = chainKey.next
        state.receiverChains[chainIndex] = chain
        return chainKey.messageKeys
    }
}
