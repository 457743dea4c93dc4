import Foundation

/// Which way a message travels when an identity's trust is checked.
public enum Direction: Sendable {
    case sending
    case receiving
}

/// This device's identity and the identities it has seen for other devices.
public protocol IdentityKeyStore: Sendable {
    func identityKeyPair() async throws -> IdentityKeyPair
    func localRegistrationId() async throws -> UInt32
    /// Records `identity` for `address`; returns true when it replaced a different key.
    @discardableResult
    func saveIdentity(_ identity: ECPublicKey, for address: ProtocolAddress) async throws -> Bool
    func isTrustedIdentity(_ identity: ECPublicKey, for address: ProtocolAddress, direction: Direction) async throws -> Bool
    func identity(for address: ProtocolAddress) async throws -> ECPublicKey?
}

public protocol PreKeyStore: Sendable {
    func loadPreKey(id: UInt32) async throws -> PreKeyRecord?
    func storePreKey(_ record: PreKeyRecord) async throws
    func removePreKey(id: UInt32) async throws
}

public protocol SignedPreKeyStore: Sendable {
    func loadSignedPreKey(id: UInt32) async throws -> SignedPreKeyRecord?
    func storeSignedPreKey(_ record: SignedPreKeyRecord) async throws
}

public protocol SessionStore: Sendable {
    func loadSession(for address: ProtocolAddress) async throws -> SessionRecord?
    func storeSession(_ record: SessionRecord, for address: ProtocolAddress) async throws
}

public protocol SenderKeyStore: Sendable {
    func loadSenderKey(for name: SenderKeyName) async throws -> SenderKeyRecord?
    func storeSenderKey(_ record: SenderKeyRecord, for name: SenderKeyName) async throws
}

/// Everything a 1:1 session needs.
public typealias SignalProtocolStore = IdentityKeyStore & PreKeyStore & SignedPreKeyStore & SessionStore

/// Keeps everything in memory; for tests and for tools that do not persist state.
///
/// Identities follow trust-on-first-use: the first key seen for an address is trusted, and a
/// different one later is not until `saveIdentity` replaces it.
public actor InMemorySignalProtocolStore: SignalProtocolStore, SenderKeyStore {
    private let identity: IdentityKeyPair
    private let registrationId: UInt32
    private var identities: [ProtocolAddress: ECPublicKey] = [:]
    private var preKeys: [UInt32: PreKeyRecord] = [:]
    private var signedPreKeys: [UInt32: SignedPreKeyRecord] = [:]
    private var sessions: [ProtocolAddress: SessionRecord] = [:]
    private var senderKeys: [SenderKeyName: SenderKeyRecord] = [:]

    public init(identity: IdentityKeyPair = .generate(), registrationId: UInt32 = KeyHelper.generateRegistrationId()) {
        self.identity = identity
        self.registrationId = registrationId
    }

    public func identityKeyPair() -> IdentityKeyPair { identity }
    public func localRegistrationId() -> UInt32 { registrationId }

    @discardableResult
    public func saveIdentity(_ identity: ECPublicKey, for address: ProtocolAddress) -> Bool {
        let previous = identities.updateValue(identity, forKey: address)
        return previous != nil && previous != identity
    }

    public func isTrustedIdentity(_ identity: ECPublicKey, for address: ProtocolAddress, direction: Direction) -> Bool {
        identities[address].map { $0 == identity } ?? true
    }

    public func identity(for address: ProtocolAddress) -> ECPublicKey? { identities[address] }

    public func loadPreKey(id: UInt32) -> PreKeyRecord? { preKeys[id] }
    public func storePreKey(_ record: PreKeyRecord) { preKeys[record.id] = record }
    public func removePreKey(id: UInt32) { preKeys[id] = nil }

    public func loadSignedPreKey(id: UInt32) -> SignedPreKeyRecord? { signedPreKeys[id] }
    public func storeSignedPreKey(_ record: SignedPreKeyRecord) { signedPreKeys[record.id] = record }

    public func loadSession(for address: ProtocolAddress) -> SessionRecord? { sessions[address] }
    public func storeSession(_ record: SessionRecord, for address: ProtocolAddress) { sessions[address] = record }

    public func loadSenderKey(for name: SenderKeyName) -> SenderKeyRecord? { senderKeys[name] }
    public func storeSenderKey(_ record: SenderKeyRecord, for name: SenderKeyName) { senderKeys[name] = record }
}
