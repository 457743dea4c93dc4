import Foundation
import SignalProtocol

/// The Signal stores as one decryption sees them: reads go to the client's store unless this
/// decryption already wrote the value; writes are kept here, in `changes`, and reach the store
/// only through `ClientStateStore.commitDecryption(_:)`, together with the plaintext. A
/// decryption that fails leaves the store untouched.
actor StagedSignalStore: SignalProtocolStore, SenderKeyStore {
    private let base: any ClientStateStore
    private(set) var changes = SignalStateChanges()

    init(base: any ClientStateStore) {
        self.base = base
    }

    func identityKeyPair() async throws -> IdentityKeyPair { try await base.identityKeyPair() }
    func localRegistrationId() async throws -> UInt32 { try await base.localRegistrationId() }

    @discardableResult
    func saveIdentity(_ identity: ECPublicKey, for address: ProtocolAddress) async throws -> Bool {
        let previous = try await self.identity(for: address)
        changes.identities[address] = identity
        return previous != nil && previous != identity
    }

    func isTrustedIdentity(_ identity: ECPublicKey, for address: ProtocolAddress, direction: Direction) async throws -> Bool {
        if let staged = changes.identities[address] { return staged == identity }
        return try await base.isTrustedIdentity(identity, for: address, direction: direction)
    }

    func identity(for address: ProtocolAddress) async throws -> ECPublicKey? {
        if let staged = changes.identities[address] { return staged }
        return try await base.identity(for: address)
    }

    func loadPreKey(id: UInt32) async throws -> PreKeyRecord? {
        if changes.removedPreKeys.contains(id) { return nil }
        return try await base.loadPreKey(id: id)
    }

    /// Decryption never creates prekeys; one made here would bypass the store's id reservation.
    func storePreKey(_ record: PreKeyRecord) async throws {
        throw SignalError.invalidRecord("a decryption tried to store prekey \(record.id)")
    }

    func removePreKey(id: UInt32) async throws {
        changes.removedPreKeys.insert(id)
    }

    func loadSignedPreKey(id: UInt32) async throws -> SignedPreKeyRecord? { try await base.loadSignedPreKey(id: id) }

    func storeSignedPreKey(_ record: SignedPreKeyRecord) async throws {
        throw SignalError.invalidRecord("a decryption tried to store signed prekey \(record.id)")
    }

    func loadSession(for address: ProtocolAddress) async throws -> SessionRecord? {
        if let staged = changes.sessions[address] { return staged }
        return try await base.loadSession(for: address)
    }

    func storeSession(_ record: SessionRecord, for address: ProtocolAddress) async throws {
        changes.sessions[address] = record
    }

    func loadSenderKey(for name: SenderKeyName) async throws -> SenderKeyRecord? {
        if let staged = changes.senderKeys[name] { return staged }
        return try await base.loadSenderKey(for: name)
    }

    func storeSenderKey(_ record: SenderKeyRecord, for name: SenderKeyName) async throws {
        changes.senderKeys[name] = record
    }
}
