import Foundation

/// Creates our sender key for a group and installs the ones other members distribute.
public struct GroupSessionBuilder<Store: SenderKeyStore>: Sendable {
    public let store: Store

    public init(store: Store) {
        self.store = store
    }

    /// Our distribution message for `name` (our own address in the group), creating the
    /// sender key the first time.
    public func create(for name: SenderKeyName) async throws -> SenderKeyDistributionMessage {
        var record = try await store.loadSenderKey(for: name) ?? SenderKeyRecord()
        if record.states.first?.signingPrivateKey == nil {
            let signingKey = ECKeyPair.generate()
            var seed = Data(count: 32)
            var generator = SystemRandomNumberGenerator()
            for index in seed.indices { seed[index] = UInt8.random(in: .min ... .max, using: &generator) }
            record.add(
                SenderKeyState(
                    keyId: KeyHelper.generateSenderKeyId(),
                    chainKey: SenderChainKey(iteration: 0, seed: seed),
                    signingPublicKey: signingKey.publicKey,
                    signingPrivateKey: signingKey
                ))
            try await store.storeSenderKey(record, for: name)
        }
        let state = record.states[0]
        return SenderKeyDistributionMessage(
            keyId: state.keyId, iteration: state.chainKey.iteration,
            chainKey: state.chainKey.seed, signingKey: state.signingPublicKey
        )
    }

    /// Installs another member's sender key; a repeat of a key we already hold is ignored so
    /// it cannot rewind the chain.
    public func process(_ message: SenderKeyDistributionMessage, from name: SenderKeyName) async throws {
        var record = try await store.loadSenderKey(for: name) ?? SenderKeyRecord()
        if let index = record.stateIndex(keyId: message.keyId), record.states[index].signingPublicKey == message.signingKey {
            return
        }
        record.add(
            SenderKeyState(
                keyId: message.keyId,
                chainKey: SenderChainKey(iteration: message.iteration, seed: message.chainKey),
                signingPublicKey: message.signingKey,
                signingPrivateKey: nil
            ))
        try await store.storeSenderKey(record, for: name)
    }
}

/// Encrypts our group messages and decrypts other members' with their sender keys.
public struct GroupCipher<Store: SenderKeyStore>: Sendable {
    public let store: Store
    public let name: SenderKeyName
    public let maximumSkippedMessages: Int

    public init(store: Store, name: SenderKeyName, maximumSkippedMessages: Int = 2000) {
        self.store = store
        self.name = name
        self.maximumSkippedMessages = maximumSkippedMessages
    }

    public func encrypt(_ plaintext: some DataProtocol) async throws -> SenderKeyMessage {
        guard var record = try await store.loadSenderKey(for: name), var state = record.states.first,
            let signingKey = state.signingPrivateKey
        else { throw SignalError.noSenderKey(keyId: nil) }
        let key = state.chainKey.messageKey.ivAndCipherKey
        let message = SenderKeyMessage(
            keyId: state.keyId,
            iteration: state.chainKey.iteration,
            ciphertext: Primitives.encrypt(plaintext, key: key.cipherKey, iv: key.iv),
            signingKey: signingKey
        )
        state.chainKey = state.chainKey.next
        record.states[0] = state
        try await store.storeSenderKey(record, for: name)
        return message
    }

    public func decrypt(_ message: SenderKeyMessage) async throws -> Data {
        guard var record = try await store.loadSenderKey(for: name), let index = record.stateIndex(keyId: message.keyId) else {
            throw SignalError.noSenderKey(keyId: message.keyId)
        }
        var state = record.states[index]
        try message.verifySignature(state.signingPublicKey)
        let messageKey = try self.messageKey(for: message.iteration, in: &state)
        let key = messageKey.ivAndCipherKey
        let plaintext = try Primitives.decrypt(message.ciphertext, key: key.cipherKey, iv: key.iv)
        record.states[index] = state
        try await store.storeSenderKey(record, for: name)
        return plaintext
    }

    public func decrypt(serialized: Data) async throws -> Data {
        try await decrypt(SenderKeyMessage(serialized: serialized))
    }

    private func messageKey(for iteration: UInt32, in state: inout SenderKeyState) throws(SignalError) -> SenderMessageKey {
        if state.chainKey.iteration > iteration {
            guard let skipped = state.skippedMessageKeys.firstIndex(where: { $0.iteration == iteration }) else {
                throw .duplicateMessage
            }
            return state.skippedMessageKeys.remove(at: skipped)
        }
        guard Int(iteration - state.chainKey.iteration) <= maximumSkippedMessages else { throw .tooManySkippedMessages }
        var chainKey = state.chainKey
        while chainKey.iteration < iteration {
            state.skippedMessageKeys.append(chainKey.messageKey)
            chainKey = chainKey.next
        }
        if state.skippedMessageKeys.count > maximumSkippedMessages {
            state.skippedMessageKeys.removeFirst(state.skippedMessageKeys.count - maximumSkippedMessages)
        }
        state.chainKey = chainKey.next
        return chainKey.messageKey
    }
}
