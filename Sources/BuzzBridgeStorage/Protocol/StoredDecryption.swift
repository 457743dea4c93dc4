import BuzzBridgeCore

/// An entry of the decrypt buffer: the plaintext of a decrypted message until the gateway has
/// stored the message (nil afterwards: the entry then only says the ciphertext was handled).
public struct StoredDecryption: Sendable, Equatable {
    public var plaintext: [UInt8]?
    public var insertedAt: Timestamp

    public init(plaintext: [UInt8]?, insertedAt: Timestamp) {
        self.plaintext = plaintext
        self.insertedAt = insertedAt
    }
}
