import Crypto
import Foundation
import SignalProtocol
import SwiftProtobuf

/// Checks the certificate chain the server sends in its hello: an intermediate signed by the
/// pinned root key, a leaf signed by the intermediate whose key is the server's Noise static
/// key, both within their validity period (whatsmeow handshake.go: verifyServerCert).
public struct ServerCertificateVerifier: Sendable {
    /// WhatsApp's pinned root key (whatsmeow handshake.go: WACertPubKey).
    public static let whatsAppRootKey = Data([
        0x14, 0x23, 0x75, 0x57, 0x4D, 0x0A, 0x58, 0x71, 0x66, 0xAA, 0xE7, 0x1E, 0xBE, 0x51, 0x64, 0x37,
        0xC4, 0xA2, 0x8B, 0x73, 0xE3, 0x69, 0x5C, 0x6C, 0xE1, 0xF7, 0xF9, 0x54, 0x5D, 0xA8, 0xEE, 0x6B,
    ])

    /// The serial the intermediate must name as its issuer (whatsmeow: WACertIssuerSerial).
    static let rootIssuerSerial: UInt32 = 0

    /// The raw Curve25519 root key certificates must chain to.
    public let rootKey: Data

    /// Verifies against WhatsApp's real root key.
    public static let whatsApp = ServerCertificateVerifier(rootKey: whatsAppRootKey)

    /// Trusts certificates signed by `rootKey` instead of WhatsApp's: only for tests that run
    /// their own server. Never use this against the real service.
    public static func insecureTestingRoot(_ rootKey: Curve25519.KeyAgreement.PublicKey) -> ServerCertificateVerifier {
        ServerCertificateVerifier(rootKey: rootKey.rawRepresentation)
    }

    private init(rootKey: Data) {
        self.rootKey = rootKey
    }

    public enum Failure: Error, Equatable, Sendable {
        case malformed
        case missingParts
        case badIntermediateSignature
        case unexpectedIssuerSerial(UInt32)
        case badLeafSignature
        case leafIssuerMismatch
        case leafKeyMismatch
        case notYetValid
        case expired
    }

    public func verify(chain: Data, serverStaticKey: Data, now: Date) throws(Failure) {
        let certificates: WACertChain
        do {
            certificates = try WACertChain(serializedBytes: chain)
        } catch {
            throw .malformed
        }
        guard certificates.hasIntermediate, certificates.hasLeaf,
            certificates.intermediate.hasDetails, certificates.leaf.hasDetails,
            certificates.intermediate.signature.count == XEdDSA.signatureLength,
            certificates.leaf.signature.count == XEdDSA.signatureLength
        else { throw .missingParts }

        guard let rootKey = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: rootKey) else { throw .malformed }
        let intermediate = certificates.intermediate
        guard XEdDSA.isValid(signature: intermediate.signature, for: intermediate.details, publicKey: rootKey) else {
            throw .badIntermediateSignature
        }
        let intermediateDetails = try Self.details(intermediate.details)
        guard intermediateDetails.issuerSerial == Self.rootIssuerSerial else {
            throw .unexpectedIssuerSerial(intermediateDetails.issuerSerial)
        }
        guard let intermediateKey = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: intermediateDetails.key) else {
            throw .malformed
        }
        try Self.checkValidity(intermediateDetails, now: now)

        let leaf = certificates.leaf
        guard XEdDSA.isValid(signature: leaf.signature, for: leaf.details, publicKey: intermediateKey) else {
            throw .badLeafSignature
        }
        let leafDetails = try Self.details(leaf.details)
        guard leafDetails.issuerSerial == intermediateDetails.serial else { throw .leafIssuerMismatch }
        guard leafDetails.key == serverStaticKey else { throw .leafKeyMismatch }
        try Self.checkValidity(leafDetails, now: now)
    }

    private static func details(_ bytes: Data) throws(Failure) -> WACertChain.NoiseCertificate.Details {
        do {
            return try WACertChain.NoiseCertificate.Details(serializedBytes: bytes)
        } catch {
            throw .malformed
        }
    }

    private static func checkValidity(_ details: WACertChain.NoiseCertificate.Details, now: Date) throws(Failure) {
        let seconds = now.timeIntervalSince1970
        if seconds < Double(details.notBefore) { throw .notYetValid }
        if seconds > Double(details.notAfter) { throw .expired }
    }
}
