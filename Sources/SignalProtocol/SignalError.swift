/// Everything that can go wrong while building sessions or handling messages.
public enum SignalError: Error, Sendable, Equatable {
    /// The message's MAC does not match: tampered, or encrypted for another session.
    case invalidMAC
    /// The sender's identity key differs from the one already trusted for that address.
    case untrustedIdentity(ProtocolAddress)
    /// No session exists for the address (or none of its states could decrypt the message).
    case noSession(ProtocolAddress)
    /// A PreKeySignalMessage names a one-time prekey this device no longer has.
    case unknownPreKey(UInt32)
    /// A PreKeySignalMessage names a signed prekey this device does not have.
    case unknownSignedPreKey(UInt32)
    /// The message key for this counter or iteration was already used.
    case duplicateMessage
    /// The message is further ahead in its chain than the skipped-key bound allows.
    case tooManySkippedMessages
    /// The version byte names a protocol version this implementation does not speak.
    case invalidVersion(UInt8)
    /// The bytes are not a well-formed message (truncated, missing fields, bad padding).
    case invalidMessage(String)
    /// A public key is not a 33-byte, 0x05-prefixed Curve25519 key.
    case invalidKey
    /// An XEdDSA signature (signed prekey or sender-key message) does not verify.
    case invalidSignature
    /// No sender-key state exists for the group, sender and key id.
    case noSenderKey(keyId: UInt32?)
    /// A stored record could not be decoded.
    case invalidRecord(String)
}
