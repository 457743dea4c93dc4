import Foundation
import TestSupport
import Testing

/// Schemathesis (`--checks all`, fixed seed, bounded examples) against the real executable:
/// `/api` with a sandbox key and `/admin/api` with the admin token. Any failed check fails the
/// suite, with schemathesis's report (and a curl line per failure) in the message.
@Suite("OpenAPI document against the server: schemathesis")
struct SchemathesisTests {
    @Test(arguments: [("/api/", false), ("/admin/api/", true)])
    func schemathesisFindsNothing(pathPrefix: String, admin: Bool) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-st-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The generated requests come fast and include many without credentials: the limits would
        // answer 429 and leave the endpoints untested (they have their own tests).
        let server = try ServerProcess(arguments: [
            "serve", "--data", directory, "--port", "0", "--log-level", "critical", "--rate-limit", "100000", "--failed-auth-limit", "100000",
        ])
        let base = try await server.baseURL()
        let output = try await server.waitFor("Admin token")
        func secret(_ label: String) -> String? {
            output.split(separator: "\n").first { $0.contains(label) }?.split(separator: " ").last.map(String.init)
        }
        let credential = try #require(secret(admin ? "Admin token" : "API key"))
        let root = PythonPeer.repositoryRoot
        let schemathesis = try PythonPeer.interpreter.deletingLastPathComponent().appendingPathComponent("schemathesis")
        let run = try await ChildProcess.run(
            schemathesis,
            arguments: [
                "--config-file", root.appendingPathComponent("Tests/peers/schemathesis.toml").path,
                "run", root.appendingPathComponent("Sources/BuzzBridgeGateway/Resources/openapi.json").path,
                "--url", base, "--header", "Authorization: Bearer \(credential)",
                "--include-path-regex", "^" + pathPrefix, "--checks", "all", "--seed", "1", "--max-examples", "20", "--no-color",
            ],
            environment: PythonPeer.environment
        )
        await server.terminate()
        #expect(run.status == 0, "schemathesis found failures:\n\(run.text)")
        #expect(run.text.contains(" passed"), "\(run.text)")
    }
}
