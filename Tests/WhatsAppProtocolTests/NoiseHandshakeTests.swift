import Crypto
import Foundation
import TestSupport
import Testing

@testable import WhatsAppProtocol

/// The Swift client against `Tests/peers/wa_noise_server.py`, a server built on the
/// independent `noiseprotocol` package with WhatsApp's protobuf framing (neonize's modules)
/// and certificates signed by libsignal's XEdDSA (python-axolotl-curve25519).
@Suite struct NoiseHandshakeTests {
    struct Server {
        let seed: String
        let certificate: String
        let now = Int(Date().timeIntervalSince1970)

        func call(_ mode: String, _ request: [String: Any]) async throws -> [String: Any] {
            var request = request
            request["seed"] = seed
            request["cert"] = certificate
            request["now"] = now
            let input = try JSONSerialization.data(withJSONObject: request)
            let output = try await PythonPeer.check("wa_noise_server.py", arguments: [mode], input: input)
            return try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])
        }

        func rootKey() async throws -> Curve25519.KeyAgreement.PublicKey {
            let hex = try #require(try await call("root", [:])["rootKey"] as? String)
            return try Curve25519.KeyAgreement.PublicKey(rawRepresentation: Data(hex: hex))
        }
    }

    static func registrationPayload() throws -> Data {
        var payload = WAClientPayload()
        payload.passive = false
        payload.pull = false
        payload.connectType = .wifiUnknown
        payload.connectReason = .userActivated
        payload.userAgent.platform = .web
        payload.userAgent.appVersion.primary = 2
        payload.userAgent.appVersion.secondary = 3000
        payload.userAgent.appVersion.tertiary = 1_045_649_367
        payload.devicePairingData.eRegid = Data([0, 0, 0x30, 0x39])
        payload.devicePairingData.eKeytype = Data([5])
        return try payload.serializedData()
    }

    @Test func handshakeAndTransportWithAnIndependentServer() async throws {
        let server = Server(seed: "handshake-\(UUID())", certificate: "valid")
        let staticKey = Curve25519.KeyAgreement.PrivateKey()
        var client = NoiseClientHandshake(staticKey: staticKey, certificateVerifier: .insecureTestingRoot(try await server.rootKey()))

        let hello = try client.clientHello()
        let serverHello = try await server.call("hello", ["clientHello": hello.hex])
        try client.readServerHello(Data(hex: try #require(serverHello["serverHello"] as? String)))
        #expect(client.serverStaticKey?.hex == serverHello["serverStatic"] as? String)

        let payload = try Self.registrationPayload()
        var (finish, transport) = try client.clientFinish(payload: payload)
        let clientFrames = [Data("first frame".utf8), Data(repeating: 0xAB, count: 1000)]
        let serverPlaintexts = [Data("from the server".utf8), Data(), Data("third".utf8)]
        let result = try await server.call(
            "finish",
            [
                "clientHello": hello.hex,
                "clientFinish": finish.hex,
                "clientFrames": try clientFrames.map { try transport.encrypt($0).hex },
                "serverPlaintexts": serverPlaintexts.map(\.hex),
            ])

        #expect(result["clientStatic"] as? String == staticKey.publicKey.rawRepresentation.hex)
        #expect(result["clientPayload"] as? String == payload.hex)
        #expect(result["clientFrames"] as? [String] == clientFrames.map(\.hex))
        let serverFrames = try #require(result["serverFrames"] as? [String])
        #expect(try serverFrames.map { try transport.decrypt(Data(hex: $0)) } == serverPlaintexts)
        #expect(transport.sentCount == 2 && transport.receivedCount == 3)
    }

    @Test(arguments: [
        ("wrong-root", ServerCertificateVerifier.Failure.badIntermediateSignature),
        ("wrong-leaf-key", .leafKeyMismatch),
        ("expired", .expired),
        ("wrong-issuer-serial", .unexpectedIssuerSerial(1)),
        ("bad-leaf-signature", .badLeafSignature),
    ])
    func refusesABadCertificate(_ mode: String, _ failure: ServerCertificateVerifier.Failure) async throws {
        let server = Server(seed: "cert-\(mode)", certificate: mode)
        var client = NoiseClientHandshake(
            staticKey: .init(),
            certificateVerifier: .insecureTestingRoot(try await server.rootKey())
        )
        let hello = try client.clientHello()
        let serverHello = Data(hex: try #require(try await server.call("hello", ["clientHello": hello.hex])["serverHello"] as? String))
        #expect(throws: NoiseClientHandshake.Failure.certificate(failure)) { try client.readServerHello(serverHello) }
        #expect(throws: NoiseClientHandshake.Failure.outOfOrder) { try client.clientFinish(payload: Data()) }
    }

    @Test func refusesATestChainUnderWhatsAppsRoot() async throws {
        let server = Server(seed: "real-root", certificate: "valid")
        var client = NoiseClientHandshake(staticKey: .init())
        let hello = try client.clientHello()
        let serverHello = Data(hex: try #require(try await server.call("hello", ["clientHello": hello.hex])["serverHello"] as? String))
        #expect(throws: NoiseClientHandshake.Failure.certificate(.badIntermediateSignature)) { try client.readServerHello(serverHello) }
    }
}

@Suite struct NoiseUnitTests {
    @Test func protocolNameIsThirtyTwoBytes() {
        #expect(NoiseClientHandshake.protocolName.count == 32)
        #expect(ConnectionHeader.bytes == Data([0x57, 0x41, 0x06, 0x03]))
    }

    @Test func tamperedServerHelloIsRefused() throws {
        var client = NoiseClientHandshake(staticKey: .init())
        _ = try client.clientHello()
        var message = WAHandshakeMessage()
        message.serverHello.ephemeral = Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation
        message.serverHello.static = Data(repeating: 1, count: 48)
        message.serverHello.payload = Data(repeating: 2, count: 40)
        #expect(throws: NoiseClientHandshake.Failure.decryptionFailed) { try client.readServerHello(try message.serializedData()) }
        #expect(throws: NoiseClientHandshake.Failure.malformedServerHello) {
            var fresh = NoiseClientHandshake(staticKey: .init())
            _ = try fresh.clientHello()
            try fresh.readServerHello(Data([0x1A, 0x00]))
        }
    }
}
