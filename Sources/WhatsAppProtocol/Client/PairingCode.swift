import Crypto
import Foundation
import _CryptoExtras

/// Linking by phone number instead of a QR code (whatsmeow pair-code.go): the companion asks
/// the server for a code for the account's number (`companion_hello`), the user types the
/// 8-character code into the phone, the phone answers with its wrapped ephemeral key
/// (`primary_hello` notification), and the companion sends its key bundle
/// (`companion_finish`). pair-success then follows as after a scan.
///
/// The code protects both ephemeral keys: each is AES-CTR-encrypted under a PBKDF2-SHA256 key
/// of the code and a random salt, so only someone who saw the code can complete the exchange.
public enum PairingCode {
    /// The code's alphabet: Crockford-like base32 without 0, I, O and U.
    public static let alphabet = Array("123456789ABCDEFGHJKLMNPQRSTVWXYZ")
    /// PBKDF2 rounds (whatsmeow: `2<<16`).
    public static let rounds = 2 << 16
    /// The platform text the server accepts: `Browser (OS)` with a common browser and OS.
    public static let defaultDisplayName = "Chrome (Linux)"

    public enum Failure: Error, Equatable, Sendable {
        /// Fewer than 7 digits.
        case phoneNumberTooShort
        /// Starts with 0: the number must be international, without a trunk prefix.
        case phoneNumberNotInternational
        case malformed(String)
        case refMismatch
        case crypto
    }

    /// What the companion keeps between `companion_hello` and the phone's answer.
    public struct PendingLink: Sendable {
        public let phone: JID
        /// The 8 characters, as the user types them (without the dash).
        public let code: String
        public let ephemeralKey: Curve25519.KeyAgreement.PrivateKey
        /// salt (32) ‖ iv (16) ‖ AES-CTR(ephemeral public key) (32).
        public let wrappedEphemeralKey: Data
        /// Set from the server's answer to `companion_hello`.
        public var pairingRef: Data?

        /// `ABCD-EFGH`, as shown to the user.
        public var displayCode: String { String(code.prefix(4)) + "-" + String(code.dropFirst(4)) }
    }

    /// Digits only; whatsmeow PairPhone's checks.
    public static func normalizedPhone(_ phone: String) throws(Failure) -> String {
        let digits = String(phone.filter { $0.isASCII && $0.isNumber })
        guard digits.count > 6 else { throw .phoneNumberTooShort }
        guard !digits.hasPrefix("0") else { throw .phoneNumberNotInternational }
        return digits
    }

    /// 5 bytes as 8 characters of `alphabet`, most significant bits first.
    public static func encode(_ bytes: [UInt8]) -> String {
        var value: UInt64 = 0
        for byte in bytes.prefix(5) { value = value << 8 | UInt64(byte) }
        return String((0..<8).map { alphabet[Int(value >> UInt64(35 - 5 * $0) & 0x1F)] })
    }

    /// The AES key protecting an ephemeral key: PBKDF2-HMAC-SHA256(code, salt, 131072 rounds, 32 bytes).
    public static func key(code: String, salt: Data) throws(Failure) -> SymmetricKey {
        do {
            return try KDF.Insecure.PBKDF2.deriveKey(
                from: Data(code.utf8), salt: salt, using: .sha256, outputByteCount: 32, unsafeUncheckedRounds: rounds
            )
        } catch {
            throw .crypto
        }
    }

    /// salt ‖ iv ‖ AES-CTR(key(code, salt), iv, publicKey).
    public static func wrap(publicKey: Data, code: String, salt: Data, iv: Data) throws(Failure) -> Data {
        guard salt.count == 32, iv.count == 16, publicKey.count == 32 else { throw .malformed("wrap input sizes") }
        return salt + iv + (try ctr(publicKey, key: key(code: code, salt: salt), iv: iv))
    }

    /// The 32-byte public key inside salt ‖ iv ‖ ciphertext.
    public static func unwrap(_ wrapped: Data, code: String) throws(Failure) -> Data {
        guard wrapped.count >= 80 else { throw .malformed("wrapped key of \(wrapped.count) bytes") }
        let bytes = [UInt8](wrapped)
        let salt = Data(bytes[0..<32]), iv = Data(bytes[32..<48]), ciphertext = Data(bytes[48..<80])
        return try ctr(ciphertext, key: key(code: code, salt: salt), iv: iv)
    }

    private static func ctr(_ data: Data, key: SymmetricKey, iv: Data) throws(Failure) -> Data {
        do {
            return try AES._CTR.encrypt(data, using: key, nonce: AES._CTR.Nonce(nonceBytes: iv))
        } catch {
            throw .crypto
        }
    }

    /// A new link request for `phone`: a fresh ephemeral key, code, salt and iv.
    public static func begin(phone: String, using generator: inout some RandomNumberGenerator) throws(Failure) -> PendingLink {
        let number = try normalizedPhone(phone)
        let ephemeral = Curve25519.KeyAgreement.PrivateKey()
        let code = encode(randomBytes(5, using: &generator))
        let wrapped = try wrap(
            publicKey: ephemeral.publicKey.rawRepresentation,
            code: code,
            salt: Data(randomBytes(32, using: &generator)),
            iv: Data(randomBytes(16, using: &generator))
        )
        return PendingLink(phone: .user(number), code: code, ephemeralKey: ephemeral, wrappedEphemeralKey: wrapped)
    }

    /// `<iq xmlns="md" type="set"><link_code_companion_reg jid stage="companion_hello" …>`.
    public static func helloQuery(
        _ link: PendingLink,
        noisePublicKey: Data,
        clientType: QRClientType,
        displayName: String = defaultDisplayName,
        showPushNotification: Bool = true
    ) -> InfoQuery {
        InfoQuery(
            namespace: "md", kind: .set,
            content: [
                BinaryNode(
                    tag: "link_code_companion_reg",
                    attributes: [
                        "jid": .jid(link.phone),
                        "stage": "companion_hello",
                        "should_show_push_notification": .string(showPushNotification ? "true" : "false"),
                    ],
                    children: [
                        BinaryNode(tag: "link_code_pairing_wrapped_companion_ephemeral_pub", content: .bytes(link.wrappedEphemeralKey)),
                        BinaryNode(tag: "companion_server_auth_key_pub", content: .bytes(noisePublicKey)),
                        BinaryNode(tag: "companion_platform_id", content: .string(clientType.rawValue)),
                        BinaryNode(tag: "companion_platform_display", content: .string(displayName)),
                        BinaryNode(tag: "link_code_pairing_nonce", content: .bytes(Data([0]))),
                    ])
            ])
    }

    /// The pairing ref in the answer to `companion_hello`.
    public static func pairingRef(in answer: BinaryNode) throws(Failure) -> Data {
        guard let ref = answer.child("link_code_companion_reg")?.child("link_code_pairing_ref")?.contentBytes else {
            throw .malformed("no link_code_pairing_ref in the answer")
        }
        return ref
    }

    /// What answering the phone's `primary_hello` produces: the new ADV secret (store it before
    /// sending) and the `companion_finish` query.
    public struct Finish: Sendable {
        public let advSecret: Data
        public let query: InfoQuery
    }

    /// Answers `<notification type="link_code_companion_reg"><link_code_companion_reg stage="primary_hello">`.
    public static func finish(
        notification: BinaryNode,
        link: PendingLink,
        identityKey: Curve25519.KeyAgreement.PrivateKey,
        using generator: inout some RandomNumberGenerator
    ) throws(Failure) -> Finish {
        try finish(
            notification: notification,
            link: link,
            identityKey: identityKey,
            advRandom: Data(randomBytes(32, using: &generator)),
            bundleSalt: Data(randomBytes(32, using: &generator)),
            bundleNonce: Data(randomBytes(12, using: &generator))
        )
    }

    /// The same with the random inputs given, for test vectors.
    public static func finish(
        notification: BinaryNode,
        link: PendingLink,
        identityKey: Curve25519.KeyAgreement.PrivateKey,
        advRandom: Data,
        bundleSalt: Data,
        bundleNonce: Data
    ) throws(Failure) -> Finish {
        guard let stage = notification.child("link_code_companion_reg") else { throw .malformed("no link_code_companion_reg") }
        guard let ref = stage.child("link_code_pairing_ref")?.contentBytes, ref == link.pairingRef else { throw .refMismatch }
        guard let wrapped = stage.child("link_code_pairing_wrapped_primary_ephemeral_pub")?.contentBytes, wrapped.count >= 80 else {
            throw .malformed("link_code_pairing_wrapped_primary_ephemeral_pub")
        }
        guard let primaryIdentity = stage.child("primary_identity_pub")?.contentBytes, primaryIdentity.count == 32 else {
            throw .malformed("primary_identity_pub")
        }
        let primaryEphemeral = try unwrap(wrapped, code: link.code)
        let ephemeralShared = try agreement(link.ephemeralKey, primaryEphemeral)
        let identityShared = try agreement(identityKey, primaryIdentity)
        let bundle = try wrapKeyBundle(
            ephemeralShared: ephemeralShared,
            plaintext: identityKey.publicKey.rawRepresentation + primaryIdentity + advRandom,
            salt: bundleSalt,
            nonce: bundleNonce
        )
        let advSecret = Self.advSecret(ephemeralShared: ephemeralShared, identityShared: identityShared, advRandom: advRandom)
        let query = InfoQuery(
            namespace: "md", kind: .set,
            content: [
                BinaryNode(
                    tag: "link_code_companion_reg", attributes: ["jid": .jid(link.phone), "stage": "companion_finish"],
                    children: [
                        BinaryNode(tag: "link_code_pairing_wrapped_key_bundle", content: .bytes(bundle)),
                        BinaryNode(tag: "companion_identity_public", content: .bytes(identityKey.publicKey.rawRepresentation)),
                        BinaryNode(tag: "link_code_pairing_ref", content: .bytes(ref)),
                    ])
            ])
        return Finish(advSecret: advSecret, query: query)
    }

    /// salt ‖ nonce ‖ AES-256-GCM(HKDF-SHA256(ephemeralShared, salt, "link_code_pairing_key_bundle_encryption_key"), plaintext).
    public static func wrapKeyBundle(ephemeralShared: Data, plaintext: Data, salt: Data, nonce: Data) throws(Failure) -> Data {
        let key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: ephemeralShared),
            salt: salt,
            info: Data("link_code_pairing_key_bundle_encryption_key".utf8),
            outputByteCount: 32
        )
        do {
            let sealed = try AES.GCM.seal(plaintext, using: key, nonce: AES.GCM.Nonce(data: nonce))
            return salt + nonce + sealed.ciphertext + sealed.tag
        } catch {
            throw .crypto
        }
    }

    /// HKDF-SHA256(ephemeralShared ‖ identityShared ‖ advRandom, no salt, "adv_secret", 32).
    public static func advSecret(ephemeralShared: Data, identityShared: Data, advRandom: Data) -> Data {
        let key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: ephemeralShared + identityShared + advRandom),
            info: Data("adv_secret".utf8),
            outputByteCount: 32
        )
        return key.withUnsafeBytes { Data($0) }
    }

    private static func agreement(_ privateKey: Curve25519.KeyAgreement.PrivateKey, _ publicKey: Data) throws(Failure) -> Data {
        guard let theirs = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: publicKey),
            let shared = try? privateKey.sharedSecretFromKeyAgreement(with: theirs)
        else { throw .crypto }
        let bytes = shared.withUnsafeBytes { Data($0) }
        guard bytes.reduce(0, |) != 0 else { throw .crypto }
        return bytes
    }

    private static func randomBytes(_ count: Int, using generator: inout some RandomNumberGenerator) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}
