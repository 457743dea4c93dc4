import BuzzBridgeGateway
import Foundation
import Testing

@Suite("HTTPS: TLS 1.2 and 1.3 only, plain HTTP refused, a trusted proxy's X-Forwarded-Proto")
struct HTTPSTests {
    /// A TLS handshake with exactly `version`, then one HTTP request over it.
    static func openSSLClient(port: Int, version: String, ca: String, request: String) async throws -> (status: Int32, output: String) {
        // SECLEVEL=0 lets the client offer TLS 1.0/1.1 at all, so a refusal is the server's.
        try await OpenSSL.run(
            [
                "s_client", "-connect", "127.0.0.1:\(port)", "-servername", "localhost", version, "-CAfile", ca, "-verify_return_error",
                "-cipher", "DEFAULT:@SECLEVEL=0", "-ign_eof",
            ],
            input: request
        )
    }

    static func statusRequest(_ key: String) -> String {
        "GET /api/session/status HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(key)\r\nConnection: close\r\n\r\n"
    }

    /// TLS 1.2 with one cipher suite offered by the client.
    static func tls12Client(port: Int, cipher: String, ca: String, request: String) async throws -> (status: Int32, output: String) {
        try await OpenSSL.run(
            [
                "s_client", "-connect", "127.0.0.1:\(port)", "-servername", "localhost", "-tls1_2", "-CAfile", ca, "-verify_return_error",
                "-cipher", cipher + ":@SECLEVEL=0", "-ign_eof",
            ],
            input: request
        )
    }

    @Test func tls12OffersOnlyECDHEWithAEAD() async throws {
        let certificate = try await TestCertificate.shared()
        let gateway = try await ConfiguredGateway.start(security: try await ConfiguredGateway.testTLS())
        for cipher in ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"] {
            let session = try await Self.tls12Client(
                port: gateway.port, cipher: cipher, ca: certificate.certificate, request: Self.statusRequest(gateway.apiKey))
            #expect(session.output.contains("HTTP/1.1 200 OK"), "\(cipher): \(session.output)")
        }
        for cipher in [
            "ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-ECDSA-AES128-SHA256", "AES256-SHA", "AES128-SHA", "AES128-GCM-SHA256",
        ] {
            let session = try await Self.tls12Client(
                port: gateway.port, cipher: cipher, ca: certificate.certificate, request: Self.statusRequest(gateway.apiKey))
            #expect(session.status != 0, "\(cipher) must not be negotiated")
            #expect(!session.output.contains("HTTP/1.1 200"), "\(cipher): \(session.output)")
        }
        try await gateway.discard()
    }

    @Test func tls12And13AreAcceptedAndOlderVersionsRefused() async throws {
        let certificate = try await TestCertificate.shared()
        let gateway = try await ConfiguredGateway.start(security: try await ConfiguredGateway.testTLS())
        for (flag, name) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
            let session = try await Self.openSSLClient(
                port: gateway.port, version: flag, ca: certificate.certificate, request: Self.statusRequest(gateway.apiKey))
            #expect(session.output.contains("Protocol  : \(name)") || session.output.contains("New, \(name)"), "\(flag): \(session.output)")
            #expect(session.output.contains("Verify return code: 0 (ok)"), "\(flag)")
            #expect(session.output.contains("HTTP/1.1 200 OK"), "\(flag): \(session.output)")
            #expect(session.output.contains(#""session_id":"\#(gateway.sessionID)""#), "\(flag)")
        }
        for flag in ["-tls1_1", "-tls1"] {
            let session = try await Self.openSSLClient(
                port: gateway.port, version: flag, ca: certificate.certificate, request: Self.statusRequest(gateway.apiKey))
            #expect(session.status != 0, "\(flag) must not connect")
            // The server's own alert: it saw the old version and said no.
            #expect(session.output.contains("alert protocol version"), "\(flag): \(session.output)")
            #expect(!session.output.contains("HTTP/1.1 200"), "\(flag)")
        }

        // A Swift client (AsyncHTTPClient over NIOSSL) trusting only the test certificate.
        let reply = try await gateway.request(.GET, "/api/session/status", bearer: gateway.apiKey)
        #expect(reply.status == 200)
        #expect(reply.header("X-RateLimit-Limit") == "100")
        #expect(reply.header("Strict-Transport-Security") == "max-age=31536000")
        try await gateway.discard()
    }

    @Test func plainHTTPOnTheTLSPortGetsAClearError() async throws {
        let gateway = try await ConfiguredGateway.start(security: try await ConfiguredGateway.testTLS())
        let plain = try await gateway.request(.GET, "/api/session/status", bearer: gateway.apiKey, url: "http://127.0.0.1:\(gateway.port)")
        #expect(plain.status == 400)
        #expect(plain.errorCode == "VALIDATION_ERROR")
        #expect(plain.text.contains("HTTPS only"))
        #expect(!plain.text.contains("session_id"), "nothing of the API is served over plain HTTP")
        // The refusal did not disturb the server.
        #expect(try await gateway.request(.GET, "/api/session/status", bearer: gateway.apiKey).status == 200)
        try await gateway.discard()
    }

    @Test func behindATrustedProxyOnlyForwardedHTTPSIsServed() async throws {
        let gateway = try await ConfiguredGateway.start(security: SecurityConfiguration(trustProxy: true))
        let direct = try await gateway.request(.GET, "/api/session/status", bearer: gateway.apiKey)
        #expect(direct.status == 400)
        #expect(direct.errorCode == "VALIDATION_ERROR")
        #expect(direct.errorDetails["scheme"] != nil)
        let forwardedHTTP = try await gateway.request(.GET, "/api/session/status", bearer: gateway.apiKey, headers: [("X-Forwarded-Proto", "http")])
        #expect(forwardedHTTP.status == 400)
        let forwardedHTTPS = try await gateway.request(.GET, "/api/session/status", bearer: gateway.apiKey, headers: [("X-Forwarded-Proto", "https")])
        #expect(forwardedHTTPS.status == 200)
        try await gateway.discard()
    }

    @Test func aMissingCertificateFailsAtStartupNamingTheFile() async throws {
        let missing = SecurityConfiguration(tls: TLSFiles(certificateChainPath: "/nonexistent/cert.pem", privateKeyPath: "/nonexistent/key.pem"))
        let error = await #expect(throws: TLSFileError.self) { _ = try await ConfiguredGateway.start(security: missing) }
        #expect(error?.description == "cannot use the TLS certificate chain /nonexistent/cert.pem: no such file")
    }

    @Test func aKeyThatIsNotPEMFailsAtStartupNamingTheFile() async throws {
        let certificate = try await TestCertificate.shared()
        let notAKey = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-not-a-key-\(UUID().uuidString).pem")
        try Data("not a key\n".utf8).write(to: notAKey)
        defer { try? FileManager.default.removeItem(at: notAKey) }
        let wrong = SecurityConfiguration(tls: TLSFiles(certificateChainPath: certificate.certificate, privateKeyPath: notAKey.path))
        let error = await #expect(throws: TLSFileError.self) { _ = try await ConfiguredGateway.start(security: wrong) }
        #expect(error?.description == "cannot use the TLS private key \(notAKey.path): not a PEM private key")
    }
}
