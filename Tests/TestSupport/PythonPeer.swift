import Foundation

/// Runs the independent Python implementations the tests compare against.
///
/// `scripts/test` creates `.venv-test` with `scripts/test-requirements.txt`; a test that
/// needs a peer fails (never skips) when the venv is missing, so CI cannot pass vacuously.
public enum PythonPeer {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The repository root, found from this file's location.
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static var interpreter: URL {
        get throws {
            let python = repositoryRoot.appendingPathComponent(".venv-test/bin/python")
            guard FileManager.default.isExecutableFile(atPath: python.path) else {
                throw Failure(description: "no test venv at \(python.path): run scripts/test (it creates it)")
            }
            return python
        }
    }

    /// Runs `Tests/peers/<script>` with the venv's interpreter, feeding `input` on stdin.
    public static func run(_ script: String, arguments: [String] = [], input: Data = Data()) async throws -> ChildProcess.Output {
        let scriptURL = repositoryRoot.appendingPathComponent("Tests/peers").appendingPathComponent(script)
        return try await ChildProcess.run(try interpreter, arguments: [scriptURL.path] + arguments, input: input, environment: environment)
    }

    /// Runs `script` and returns its stdout, throwing with its stderr when it exits non-zero.
    public static func check(_ script: String, arguments: [String] = [], input: Data = Data()) async throws -> Data {
        let output = try await run(script, arguments: arguments, input: input)
        guard output.status == 0 else {
            throw Failure(description: "\(script) exited \(output.status): \(output.stderr)")
        }
        return output.stdout
    }

    /// The test process's environment, with protobuf's pure-Python implementation (the peers'
    /// generated code needs it).
    public static var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"] = "python"
        return environment
    }
}
