import Crypto
import Foundation

/// The Noise symmetric state for `Noise_XX_25519_AESGCM_SHA256`: the running handshake hash,
/// the chaining key and the current handshake cipher (Noise spec §5.2).
struct NoiseSymmetricState: Sendable {
    private(set) var handshakeHash: Data
    private var chainingKey: Data
    private var cipher: NoiseCipherState?

    /// WhatsApp's protocol name is exactly 32 bytes (the name plus four zero bytes), so it is
    /// used as the initial hash as is, which is also what the spec does for names of 32 bytes or less.
    init(protocolName: Data) {
        precondition(protocolName.count <= 32, "longer names would be hashed; WhatsApp's is not")
        handshakeHash = protocolName + Data(repeating: 0, count: 32 - protocolName.count)
        chainingKey = handshakeHash
    }

    mutating func mixHash(_ data: some DataProtocol) {
        var hasher = SHA256()
        hasher.update(data: handshakeHash)
        hasher.update(data: Data(data))
        handshakeHash = Data(hasher.finalize())
    }

    mutating func mixKey(_ inputKeyMaterial: some DataProtocol) {
        let (nextChainingKey, key) = Self.hkdf(chainingKey: chainingKey, inputKeyMaterial: Data(inputKeyMaterial))
        chainingKey = nextChainingKey
        cipher = NoiseCipherState(key: key)
    }

    mutating func encryptAndHash(_ plaintext: some DataProtocol) throws(NoiseError) -> Data {
        guard var cipher else { throw .missingKey }
        let ciphertext = try cipher.encrypt(plaintext, associatedData: handshakeHash)
        self.cipher = cipher
        mixHash(ciphertext)
        return ciphertext
    }

    mutating func decryptAndHash(_ ciphertext: some DataProtocol) throws(NoiseError) -> Data {
        guard var cipher else { throw .missingKey }
        let ciphertext = Data(ciphertext)
        let plaintext = try cipher.decrypt(ciphertext, associatedData: handshakeHash)
        self.cipher = cipher
        mixHash(ciphertext)
        return plaintext
    }

    /// The two transport ciphers: the initiator sends with the first and receives with the second.
    func split() -> (initiatorToResponder: NoiseCipherState, responderToInitiator: NoiseCipherState) {
        let (first, second) = Self.hkdf(chainingKey: chainingKey, inputKeyMaterial: Data())
        return (NoiseCipherState(key: first), NoiseCipherState(key: second))
    }

    /// HKDF-SHA256 with the chaining key as salt, no info, two 32-byte outputs.
    private static func hkdf(chainingKey: Data, inputKeyMaterial: Data) -> (Data, Data) {
        let output = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: inputKeyMaterial),
            salt: chainingKey,
            outputByteCount: 64
        ).withUnsafeBytes { Data($0) }
        return (output.prefix(32), output.suffix(32))
    }
}

/// AES-256-GCM with a per-direction message counter as nonce: four zero bytes, then the
/// counter as a 64-bit big-endian integer (whatsmeow writes it as 32 bits at the end; the
/// bytes agree below 2^32 messages).
public struct NoiseCipherState: Sendable {
    private let key: SymmetricKey
    public private(set) var counter: UInt64 = 0

    init(key: Data) {
        self.key = SymmetricKey(data: key)
    }

    mutating func encrypt(_ plaintext: some DataProtocol, associatedData: Data = Data()) throws(NoiseError) -> Data {
        let nonce = try nextNonce()
        do {
            let box = try AES.GCM.seal(Data(plaintext), using: key, nonce: nonce, authenticating: associatedData)
            return box.ciphertext + box.tag
        } catch {
            throw .encryptionFailed
        }
    }

    mutating func decrypt(_ ciphertext: some DataProtocol, associatedData: Data = Data()) throws(NoiseError) -> Data {
        let ciphertext = Data(ciphertext)
        // The counter moves on even when a frame fails, as whatsmeow does, so one bad frame
        // does not shift every later nonce.
        let nonce = try nextNonce()
        guard ciphertext.count >= 16 else { throw .decryptionFailed }
        do {
            let box = try AES.GCM.SealedBox(nonce: nonce, ciphertext: ciphertext.dropLast(16), tag: ciphertext.suffix(16))
            return try AES.GCM.open(box, using: key, authenticating: associatedData)
        } catch {
            throw .decryptionFailed
        }
    }

    private mutating func nextNonce() throws(NoiseError) -> AES.GCM.Nonce {
        guard counter < UInt64.max else { throw .nonceExhausted }
        var bytes = Data(repeating: 0, count: 4)
        withUnsafeBytes(of: counter.bigEndian) { bytes.append(contentsOf: $0) }
        counter += 1
        do {
            return try AES.GCM.Nonce(data: bytes)
        } catch {
            throw .encryptionFailed
        }
    }
}

public enum NoiseError: Error, Equatable, Sendable {
    case missingKey
    case encryptionFailed
    case decryptionFailed
    case nonceExhausted
}
