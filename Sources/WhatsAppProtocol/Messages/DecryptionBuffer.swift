import Crypto
import Foundation
import SignalProtocol

/// The decrypt buffer (whatsmeow message.go: bufferedDecrypt): every decryption stores its
/// plaintext in the same transaction as the ratchet step it took, keyed by a hash of the
/// ciphertext and where it came from. WhatsApp delivers a message again until it is answered, and
/// a second decryption of the same ciphertext fails (the key is gone); the buffer answers it
/// instead, so a crash between decrypting and storing the message loses nothing.
///
/// Once the owner has stored the message, the plaintext is cleared and the key stays (as
/// "already processed") for `retention`, WhatsApp's own limit for re-deliveries.
public enum DecryptionBuffer {
    /// How long WhatsApp's servers keep undelivered messages (whatsmeow: DeleteOldBufferedHashes).
    public static let retention: TimeInterval = 14 * 24 * 3600

    /// SHA-256 of the ciphertext, then each context part after a 0 byte, then two 0 bytes.
    /// Context: `prekey`/`normal` and the sender for 1:1 messages, `senderkey`, the group and the
    /// sender for group messages (whatsmeow decryptDM, decryptGroupMsg).
    public static func key(ciphertext: Data, context: [String]) -> Data {
        var hasher = SHA256()
        hasher.update(data: ciphertext)
        for part in context {
            hasher.update(data: Data([0]))
            hasher.update(data: Data(part.utf8))
        }
        hasher.update(data: Data([0, 0]))
        return Data(hasher.finalize())
    }
}

/// What the buffer holds for a ciphertext.
public enum BufferedDecryption: Sendable, Equatable {
    /// Decrypted before, not yet confirmed stored by the owner: here is the plaintext.
    case plaintext(Data)
    /// Decrypted and stored by the owner: nothing more to do than answer the stanza.
    case processed
}

/// The Signal state one decryption changed, to be written with its plaintext in one transaction.
public struct SignalStateChanges: Sendable {
    public var sessions: [ProtocolAddress: SessionRecord] = [:]
    public var identities: [ProtocolAddress: ECPublicKey] = [:]
    /// One-time prekeys a PreKeySignalMessage consumed.
    public var removedPreKeys: Set<UInt32> = []
    public var senderKeys: [SenderKeyName: SenderKeyRecord] = [:]

    public init() {}

    public var isEmpty: Bool { sessions.isEmpty && identities.isEmpty && removedPreKeys.isEmpty && senderKeys.isEmpty }
}

/// One decryption, stored at once: the state changes, and the plaintext under its buffer key.
public struct DecryptionCommit: Sendable {
    public var bufferKey: Data
    public var plaintext: Data
    /// The stanza's `t`, kept with the entry.
    public var serverTimestamp: Date
    public var changes: SignalStateChanges

    public init(bufferKey: Data, plaintext: Data, serverTimestamp: Date, changes: SignalStateChanges) {
        self.bufferKey = bufferKey
        self.plaintext = plaintext
        self.serverTimestamp = serverTimestamp
        self.changes = changes
    }
}
