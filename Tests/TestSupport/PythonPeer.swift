import Foundation

/// Runs the independent Python implementations the tests compare against.
///
/// `scripts/test` creates `.venv-test` with `scripts/test-requirements.txt`; a test that
/// needs a peer fails (never skips) when the venv is missing, so CI cannot pass vacuously.
public enum PythonPeer {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public struct Output: Sendable {
        public let status: Int32
        public let stdout: Data
        public let stderr: String
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
    public static func run(_ script: String, arguments: [String] = [], input: Data = Data()) async throws -> Output {
        let scriptURL = repositoryRoot.appendingPathComponent("Tests/peers").appendingPathComponent(script)
        return try await runProcess(try interpreter, arguments: [scriptURL.path] + arguments, input: input)
    }

    /// Runs `script` and returns its stdout, throwing with its stderr when it exits non-zero.
    public static func check(_ script: String, arguments: [String] = [], input: Data = Data()) async throws -> Data {
        let output = try await run(script, arguments: arguments, input: input)
        guard output.status == 0 else {
            throw Failure(description: "\(script) exited \(output.status): \(output.stderr)")
        }
        return output.stdout
    }

    public static func runProcess(_ executable: URL, arguments: [String], input: Data = Data()) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                do {
                    continuation.resume(returning: try runBlocking(executable, arguments: arguments, input: input))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// Output goes to temporary files rather than pipes, so a chatty peer can never fill a pipe
    /// buffer and deadlock against us.
    private static func runBlocking(_ executable: URL, arguments: [String], input: Data) throws -> Output {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("peer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let inputURL = folder.appendingPathComponent("stdin"), outURL = folder.appendingPathComponent("stdout"), errURL = folder.appendingPathComponent("stderr")
        try input.write(to: inputURL)
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"] = "python"
        process.environment = environment
        process.standardInput = try FileHandle(forReadingFrom: inputURL)
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
        process.waitUntilExit()
        return Output(
            status: process.terminationStatus,
            stdout: try Data(contentsOf: outURL),
            stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self)
        )
    }
}
