import Foundation
import SwiftProtobuf

/// Everything stored for one remote device: the current session and a few archived ones,
/// kept because messages for an older session can still be in flight when a new one starts.
public struct SessionRecord: Sendable {
    static let maximumPreviousStates = 40

    var current: SessionState?
    /// Most recent first.
    var previous: [SessionState] = []

    public init() {}

    /// True when no session was ever established.
    public var isEmpty: Bool { current == nil }

    /// Whether the current session was set up by us and the other side has not replied yet
    /// (so our messages still go out as PreKeySignalMessages).
    public var hasUnacknowledgedPreKeyMessage: Bool { current?.pendingPreKey != nil }

    /// The remote registration id of the current session.
    public var remoteRegistrationId: UInt32? { current?.remoteRegistrationId }

    /// Makes `state` current, archiving the previous current state.
    mutating func promote(_ state: SessionState) {
        if let current { archive(current) }
        current = state
    }

    private mutating func archive(_ state: SessionState) {
        previous.insert(state, at: 0)
        if previous.count > Self.maximumPreviousStates { previous.removeLast(previous.count - Self.maximumPreviousStates) }
    }

    /// Archives the current session so the next message starts a new one.
    public mutating func archiveCurrentState() {
        if let current { archive(current) }
        current = nil
    }

    func hasState(withBaseKey baseKey: ECPublicKey) -> Bool {
        ([current].compactMap { $0 } + previous).contains { $0.aliceBaseKey == baseKey }
    }
}

// MARK: - Serialization

extension SessionRecord {
    public init(serialized: Data) throws(SignalError) {
        guard let data = try? Signal_Records_SessionRecordData(serializedBytes: serialized) else {
            throw .invalidRecord("session record")
        }
        current = data.hasCurrent ? try SessionState(record: data.current) : nil
        previous = []
        for state in data.previous { previous.append(try SessionState(record: state)) }
    }

    public var serialized: Data {
        var data = Signal_Records_SessionRecordData()
        if let current { data.current = current.record }
        data.previous = previous.map(\.record)
        return try! data.serializedData()
    }
}

extension ECKeyPair {
    var record: Signal_Records_KeyPairRecord {
        var record = Signal_Records_KeyPairRecord()
        record.publicKey = publicKey.rawRepresentation
        record.privateKey = privateKey.rawRepresentation
        return record
    }

    init(record: Signal_Records_KeyPairRecord) throws(SignalError) {
        try self.init(privateKey: record.privateKey)
        guard publicKey.rawRepresentation == record.publicKey else { throw .invalidRecord("key pair does not match") }
    }
}

extension ChainKey {
    var record: Signal_Records_ChainKeyRecord {
        var record = Signal_Records_ChainKeyRecord()
        record.index = index
        record.key = key
        return record
    }

    init(record: Signal_Records_ChainKeyRecord) throws(SignalError) {
        guard record.key.count == 32 else { throw .invalidRecord("chain key") }
        self.init(key: record.key, index: record.index)
    }
}

extension SessionState {
    var record: Signal_Records_SessionStateRecord {
        var record = Signal_Records_SessionStateRecord()
        record.version = UInt32(version)
        record.localIdentityKey = localIdentity.rawRepresentation
        record.remoteIdentityKey = remoteIdentity.rawRepresentation
        record.rootKey = rootKey.key
        record.previousCounter = previousCounter
        record.senderChain.ratchetKey = senderChain.ratchetKeyPair.record
        record.senderChain.chainKey = senderChain.chainKey.record
        record.receiverChains = receiverChains.map { chain in
            var chainRecord = Signal_Records_ReceiverChainRecord()
            chainRecord.ratchetKey = chain.ratchetKey.rawRepresentation
            chainRecord.chainKey = chain.chainKey.record
            chainRecord.skippedMessageKeys = chain.skippedMessageKeys.map { keys in
                var keysRecord = Signal_Records_MessageKeysRecord()
                keysRecord.index = keys.index
                keysRecord.cipherKey = keys.cipherKey
                keysRecord.macKey = keys.macKey
                keysRecord.iv = keys.iv
                return keysRecord
            }
            return chainRecord
        }
        if let pendingPreKey {
            if let id = pendingPreKey.preKeyId { record.pendingPreKey.preKeyID = id }
            record.pendingPreKey.signedPreKeyID = pendingPreKey.signedPreKeyId
            record.pendingPreKey.baseKey = pendingPreKey.baseKey.rawRepresentation
        }
        record.localRegistrationID = localRegistrationId
        record.remoteRegistrationID = remoteRegistrationId
        if let aliceBaseKey { record.aliceBaseKey = aliceBaseKey.rawRepresentation }
        return record
    }

    init(record: Signal_Records_SessionStateRecord) throws(SignalError) {
        guard record.rootKey.count == 32, record.hasSenderChain else { throw .invalidRecord("session state") }
        self.init(
            version: UInt8(truncatingIfNeeded: record.version),
            localIdentity: try ECPublicKey(rawRepresentation: record.localIdentityKey),
            remoteIdentity: try ECPublicKey(rawRepresentation: record.remoteIdentityKey),
            rootKey: RootKey(key: record.rootKey),
            previousCounter: record.previousCounter,
            senderChain: SenderChain(
                ratchetKeyPair: try ECKeyPair(record: record.senderChain.ratchetKey),
                chainKey: try ChainKey(record: record.senderChain.chainKey)
            ),
            localRegistrationId: record.localRegistrationID,
            remoteRegistrationId: record.remoteRegistrationID,
            aliceBaseKey: record.aliceBaseKey.isEmpty ? nil : try ECPublicKey(rawRepresentation: record.aliceBaseKey)
        )
        for chain in record.receiverChains {
            var skipped: [MessageKeys] = []
            for keys in chain.skippedMessageKeys {
                guard keys.cipherKey.count == 32, keys.macKey.count == 32, keys.iv.count == 16 else {
                    throw .invalidRecord("message keys")
                }
                skipped.append(MessageKeys(cipherKey: keys.cipherKey, macKey: keys.macKey, iv: keys.iv, index: keys.index))
            }
            receiverChains.append(
                ReceiverChain(
                    ratchetKey: try ECPublicKey(rawRepresentation: chain.ratchetKey),
                    chainKey: try ChainKey(record: chain.chainKey),
                    skippedMessageKeys: skipped
                ))
        }
        if record.hasPendingPreKey {
            pendingPreKey = PendingPreKey(
                preKeyId: record.pendingPreKey.hasPreKeyID ? record.pendingPreKey.preKeyID : nil,
                signedPreKeyId: record.pendingPreKey.signedPreKeyID,
                baseKey: try ECPublicKey(rawRepresentation: record.pendingPreKey.baseKey)
            )
        }
    }
}
