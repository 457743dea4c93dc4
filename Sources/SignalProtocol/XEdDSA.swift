import Crypto
import Foundation

/// Signatures made with Curve25519 (X25519) key pairs, as Signal and WhatsApp use them for
/// signed prekeys, sender-key messages and device identities.
///
/// This is libsignal's scheme: an Ed25519 signature made with the clamped X25519 scalar over
/// the Edwards form of the Montgomery public key. The Montgomery u-coordinate loses the sign
/// of the Edwards x, so the signer stores it in the top bit of the last byte of the signature
/// (always zero in a valid Ed25519 `s`), and the verifier restores it from there.
public enum XEdDSA {
    public static let signatureLength = 64
    public static let randomLength = 64

    /// 64-byte signature; draws its 64 random bytes from SystemRandomNumberGenerator.
    public static func signature(for message: some DataProtocol, privateKey: Curve25519.KeyAgreement.PrivateKey) -> Data {
        var generator = SystemRandomNumberGenerator()
        var random = [UInt8](repeating: 0, count: randomLength)
        for index in random.indices { random[index] = UInt8.random(in: .min ... .max, using: &generator) }
        return signature(for: message, privateKey: privateKey, random: random)
    }

    /// Deterministic variant for test vectors: `random` (64 bytes) only feeds the nonce.
    /// Internal: a caller reusing `random` for two messages would leak the private key.
    static func signature(
        for message: some DataProtocol,
        privateKey: Curve25519.KeyAgreement.PrivateKey,
        random: some DataProtocol
    ) -> Data {
        precondition(random.count == randomLength, "XEdDSA needs 64 random bytes")
        let messageBytes = [UInt8](message)
        let k = clamped(privateKey.rawRepresentation)
        let publicPoint = EdwardsPoint.baseMultiple(secret: k).encoded
        let signBit = publicPoint[31] & 0x80

        // Nonce hash with a distinct 0xFE 0xFF… prefix so it can never collide with the
        // challenge hash below (XEdDSA's hash_1).
        var nonceHash = SHA512()
        nonceHash.update(data: [0xFE] + [UInt8](repeating: 0xFF, count: 31))
        nonceHash.update(data: k)
        nonceHash.update(data: messageBytes)
        nonceHash.update(data: [UInt8](random))
        let r = Scalar(reducing: Array(nonceHash.finalize()))

        var signature = edwardsSignature(message: messageBytes, secretScalar: k, publicPoint: publicPoint, nonce: r)
        signature[63] = (signature[63] & 0x7F) | signBit
        return Data(signature)
    }

    /// The Ed25519 signing equation with an explicit secret scalar and nonce: R ‖ (r + h·k mod L).
    static func edwardsSignature(message: [UInt8], secretScalar k: [UInt8], publicPoint: [UInt8], nonce r: Scalar) -> [UInt8] {
        let commitment = EdwardsPoint.baseMultiple(secret: r.bytes).encoded
        let h = challenge(commitment: commitment, publicPoint: publicPoint, message: message)
        let s = Scalar.multiplyAdd(h, Scalar(reducing: k), r)
        return commitment + s.bytes
    }

    public static func isValid(
        signature: some DataProtocol,
        for message: some DataProtocol,
        publicKey: Curve25519.KeyAgreement.PublicKey
    ) -> Bool {
        let signature = [UInt8](signature)
        guard signature.count == signatureLength else { return false }
        let u = FieldElement(littleEndian: [UInt8](publicKey.rawRepresentation))
        // y = (u - 1) / (u + 1) maps the Montgomery point to the Edwards one; u = -1 has no image.
        let uPlusOne = u + .one
        guard !uPlusOne.isZero else { return false }
        let y = (u - .one) * uPlusOne.inverse
        var edwardsKey = y.bytes
        edwardsKey[31] |= signature[63] & 0x80
        return isValidEdwardsSignature(signature, message: [UInt8](message), publicKey: edwardsKey)
    }

    /// Ed25519 verification against an encoded Edwards public key; the top bit of the
    /// signature's last byte is ignored because XEdDSA uses it for the key's sign.
    static func isValidEdwardsSignature(_ signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard signature.count == signatureLength, let publicPoint = EdwardsPoint(encoded: publicKey) else { return false }
        let commitment = Array(signature[0..<32])
        var s = Array(signature[32..<64])
        s[31] &= 0x7F
        // A reduced s is below L < 2^253; anything wider is malleated or forged.
        guard s[31] & 0xE0 == 0 else { return false }

        // RFC 8032 hashes A as encoded; for XEdDSA keys that encoding is canonical by construction.
        let h = challenge(commitment: commitment, publicPoint: publicKey, message: message)
        let expected = EdwardsPoint.baseMultiple(public: s) + (-publicPoint).multiplied(byPublic: h.bytes)
        return expected.encoded == commitment
    }

    /// h = SHA-512(R ‖ A ‖ M) mod L, the Ed25519 challenge.
    private static func challenge(commitment: [UInt8], publicPoint: [UInt8], message: [UInt8]) -> Scalar {
        var hash = SHA512()
        hash.update(data: commitment)
        hash.update(data: publicPoint)
        hash.update(data: message)
        return Scalar(reducing: Array(hash.finalize()))
    }

    /// X25519 clamping (RFC 7748): the scalar the key actually stands for.
    static func clamped(_ raw: some DataProtocol) -> [UInt8] {
        var k = [UInt8](raw)
        k[0] &= 248
        k[31] &= 127
        k[31] |= 64
        return k
    }
}
