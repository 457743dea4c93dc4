import Foundation

/// The encrypted stream after the handshake: one cipher per direction, each with its own counter.
public struct NoiseTransport: Sendable {
    private var sender: NoiseCipherState
    private var receiver: NoiseCipherState

    init(sender: NoiseCipherState, receiver: NoiseCipherState) {
        self.sender = sender
        self.receiver = receiver
    }

    /// Encrypts one outgoing frame payload (no associated data).
    public mutating func encrypt(_ plaintext: some DataProtocol) throws(NoiseError) -> Data {
        try sender.encrypt(plaintext)
    }

    /// Decrypts one incoming frame payload.
    public mutating func decrypt(_ ciphertext: some DataProtocol) throws(NoiseError) -> Data {
        try receiver.decrypt(ciphertext)
    }

    public var sentCount: UInt64 { sender.counter }
    public var receivedCount: UInt64 { receiver.counter }
}
