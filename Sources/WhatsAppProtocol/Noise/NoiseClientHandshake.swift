import Crypto
import Foundation
import SwiftProtobuf

/// The client side of WhatsApp's Noise XX handshake, without I/O: it turns the server's
/// messages into the client's, and ends in a `NoiseTransport` (whatsmeow handshake.go: doHandshake).
///
///     -> e                                      ClientHello.ephemeral
///     <- e, ee, s, es, certificate chain        ServerHello.{ephemeral, static, payload}
///     -> s, se, ClientPayload                   ClientFinish.{static, payload}
public struct NoiseClientHandshake: Sendable {
    /// `Noise_XX_25519_AESGCM_SHA256` and four zero bytes: 32 bytes (whatsmeow socket/constants.go).
    public static let protocolName = Data("Noise_XX_25519_AESGCM_SHA256\0\0\0\0".utf8)

    public enum Failure: Error, Equatable, Sendable {
        case outOfOrder
        case malformedServerHello
        case invalidServerKey
        case decryptionFailed
        case certificate(ServerCertificateVerifier.Failure)
        case encryptionFailed
    }

    private enum Step: Sendable {
        case start, awaitingServerHello, readyToFinish(serverEphemeral: Curve25519.KeyAgreement.PublicKey), finished
    }

    private var state: NoiseSymmetricState
    private var step = Step.start
    private let ephemeralKey: Curve25519.KeyAgreement.PrivateKey
    private let staticKey: Curve25519.KeyAgreement.PrivateKey
    private let certificateVerifier: ServerCertificateVerifier

    /// The server's static key, once its hello has been verified.
    public private(set) var serverStaticKey: Data?

    /// - Parameters:
    ///   - staticKey: the device's long-lived Noise key.
    ///   - prologue: the connection header, which WhatsApp also uses as the Noise prologue.
    public init(
        staticKey: Curve25519.KeyAgreement.PrivateKey,
        ephemeralKey: Curve25519.KeyAgreement.PrivateKey = .init(),
        prologue: Data = ConnectionHeader.bytes,
        certificateVerifier: ServerCertificateVerifier = .whatsApp
    ) {
        self.staticKey = staticKey
        self.ephemeralKey = ephemeralKey
        self.certificateVerifier = certificateVerifier
        state = NoiseSymmetricState(protocolName: Self.protocolName)
        state.mixHash(prologue)
    }

    /// The first message, a serialized `HandshakeMessage` with the client's ephemeral key.
    public mutating func clientHello() throws(Failure) -> Data {
        guard case .start = step else { throw .outOfOrder }
        let ephemeral = ephemeralKey.publicKey.rawRepresentation
        // Message 1's payload is empty and, unlike stock Noise, WhatsApp does not hash it.
        state.mixHash(ephemeral)
        step = .awaitingServerHello
        var message = WAHandshakeMessage()
        message.clientHello.ephemeral = ephemeral
        return try Self.serialize(message)
    }

    /// Reads the server's hello and verifies its certificate chain.
    public mutating func readServerHello(_ bytes: Data, now: Date = Date()) throws(Failure) {
        guard case .awaitingServerHello = step else { throw .outOfOrder }
        guard let message = try? WAHandshakeMessage(serializedBytes: bytes), message.hasServerHello,
            message.serverHello.ephemeral.count == 32, message.serverHello.hasStatic, message.serverHello.hasPayload
        else { throw .malformedServerHello }
        let hello = message.serverHello
        guard let serverEphemeral = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: hello.ephemeral) else {
            throw .invalidServerKey
        }
        state.mixHash(hello.ephemeral)
        try mixSharedSecret(ephemeralKey, serverEphemeral)

        let serverStatic = try decrypt(hello.static)
        guard serverStatic.count == 32, let serverStaticKey = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: serverStatic) else {
            throw .invalidServerKey
        }
        try mixSharedSecret(ephemeralKey, serverStaticKey)

        let certificateChain = try decrypt(hello.payload)
        do {
            try certificateVerifier.verify(chain: certificateChain, serverStaticKey: serverStatic, now: now)
        } catch {
            throw .certificate(error)
        }
        self.serverStaticKey = serverStatic
        step = .readyToFinish(serverEphemeral: serverEphemeral)
    }

    /// The last message, carrying the encrypted static key and `payload` (a serialized
    /// `ClientPayload`), and the transport for everything after it.
    public mutating func clientFinish(payload: Data) throws(Failure) -> (message: Data, transport: NoiseTransport) {
        guard case .readyToFinish(let serverEphemeral) = step else { throw .outOfOrder }
        let encryptedStatic = try encrypt(staticKey.publicKey.rawRepresentation)
        try mixSharedSecret(staticKey, serverEphemeral)
        let encryptedPayload = try encrypt(payload)
        step = .finished

        var message = WAHandshakeMessage()
        message.clientFinish.static = encryptedStatic
        message.clientFinish.payload = encryptedPayload
        let ciphers = state.split()
        return (try Self.serialize(message), NoiseTransport(sender: ciphers.initiatorToResponder, receiver: ciphers.responderToInitiator))
    }

    private mutating func mixSharedSecret(
        _ privateKey: Curve25519.KeyAgreement.PrivateKey,
        _ publicKey: Curve25519.KeyAgreement.PublicKey
    ) throws(Failure) {
        guard let secret = try? privateKey.sharedSecretFromKeyAgreement(with: publicKey) else { throw .invalidServerKey }
        let bytes = secret.withUnsafeBytes { Data($0) }
        // A low-order server key gives an all-zero secret: refused, as in every agreement.
        guard bytes.reduce(0, |) != 0 else { throw .invalidServerKey }
        state.mixKey(bytes)
    }

    private mutating func decrypt(_ ciphertext: Data) throws(Failure) -> Data {
        do {
            return try state.decryptAndHash(ciphertext)
        } catch {
            throw .decryptionFailed
        }
    }

    private mutating func encrypt(_ plaintext: Data) throws(Failure) -> Data {
        do {
            return try state.encryptAndHash(plaintext)
        } catch {
            throw .encryptionFailed
        }
    }

    private static func serialize(_ message: WAHandshakeMessage) throws(Failure) -> Data {
        do {
            return try message.serializedData()
        } catch {
            throw .encryptionFailed
        }
    }
}
