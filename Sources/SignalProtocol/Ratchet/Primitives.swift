import Crypto
import Foundation
import _CryptoExtras

/// The symmetric primitives of Signal v3: HKDF-SHA256, HMAC-SHA256 and AES-256-CBC/PKCS#7.
enum Primitives {
    static func hkdf(_ inputKeyMaterial: some DataProtocol, salt: some DataProtocol, info: String, length: Int) -> Data {
        let key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Data(inputKeyMaterial)),
            salt: Data(salt),
            info: Data(info.utf8),
            outputByteCount: length
        )
        return key.withUnsafeBytes { Data($0) }
    }

    static func hmac(key: some DataProtocol, _ message: some DataProtocol) -> Data {
        Data(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Data(key))))
    }

    static func encrypt(_ plaintext: some DataProtocol, key: Data, iv: Data) -> Data {
        do {
            return try AES._CBC.encrypt(plaintext, using: SymmetricKey(data: key), iv: AES._CBC.IV(ivBytes: iv))
        } catch {
            // Only reachable with a wrong key or IV length, which the key derivation rules out.
            preconditionFailure("AES-CBC with a derived 32-byte key and 16-byte IV failed: \(error)")
        }
    }

    static func decrypt(_ ciphertext: some DataProtocol, key: Data, iv: Data) throws(SignalError) -> Data {
        guard ciphertext.count > 0, ciphertext.count % 16 == 0 else { throw .invalidMessage("ciphertext is not whole AES blocks") }
        do {
            return try AES._CBC.decrypt(ciphertext, using: SymmetricKey(data: key), iv: AES._CBC.IV(ivBytes: iv))
        } catch {
            throw .invalidMessage("bad PKCS#7 padding")
        }
    }

    /// Equality without an early exit, for MACs.
    static func constantTimeEqual(_ a: some DataProtocol, _ b: some DataProtocol) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// The keys for one message, derived from a chain key.
struct MessageKeys: Sendable, Equatable {
    let cipherKey: Data
    let macKey: Data
    let iv: Data
    let index: UInt32
}

/// A symmetric ratchet step: each chain key yields one message key and the next chain key.
struct ChainKey: Sendable, Equatable {
    let key: Data
    let index: UInt32

    var next: ChainKey { ChainKey(key: Primitives.hmac(key: key, [0x02]), index: index + 1) }

    var messageKeys: MessageKeys {
        let seed = Primitives.hmac(key: key, [0x01])
        let derived = Primitives.hkdf(seed, salt: Data(), info: "WhisperMessageKeys", length: 80)
        return MessageKeys(
            cipherKey: derived.subdata(in: 0..<32),
            macKey: derived.subdata(in: 32..<64),
            iv: derived.subdata(in: 64..<80),
            index: index
        )
    }
}

/// The Diffie–Hellman ratchet: each new ratchet key mixes a fresh agreement into the root.
struct RootKey: Sendable, Equatable {
    let key: Data

    func createChain(theirRatchetKey: ECPublicKey, ourRatchetKey: ECKeyPair) throws(SignalError) -> (RootKey, ChainKey) {
        let secret = try ourRatchetKey.agreement(with: theirRatchetKey)
        let derived = Primitives.hkdf(secret, salt: key, info: "WhisperRatchet", length: 64)
        return (RootKey(key: derived.subdata(in: 0..<32)), ChainKey(key: derived.subdata(in: 32..<64), index: 0))
    }
}
