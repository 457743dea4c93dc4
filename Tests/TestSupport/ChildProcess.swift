import Foundation
import Synchronization

/// Runs and waits for other programs (peers, openssl, the built executable) without holding a
/// thread of Swift concurrency's pool.
///
/// That pool has one thread per core, two here. A test that waited for a child on one of them
/// (`waitUntilExit`, a blocking read) left one thread for everything else; two such waits at once
/// left none for the server under test, and a child that waits for that server (`openssl s_client`
/// waiting for the gateway's answer) then waits forever. Here a child run to completion is waited
/// for on a Dispatch thread and a long-lived one by polling; the task suspends meanwhile.
public enum ChildProcess {
    /// Starts `process`, one launch at a time in this test process. Foundation's `Process.run()`
    /// crashed (a bad read in its memcpy) when tests launched children on several threads at once.
    public static func launch(_ process: Process) throws {
        try launches.withLock { _ in try process.run() }
    }

    private static let launches = Mutex(())

    public struct Output: Sendable {
        public let status: Int32
        public let stdout: Data
        public let stderr: String

        /// Standard output then standard error, as text.
        public var text: String { String(decoding: stdout, as: UTF8.self) + stderr }
    }

    /// Runs `executable` to completion with `input` on its standard input.
    ///
    /// Output goes to temporary files rather than pipes, so a chatty child can never fill a pipe
    /// buffer and wait for us while we wait for it.
    public static func run(
        _ executable: URL, arguments: [String], input: Data = Data(), environment: [String: String]? = nil
    ) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try runBlocking(executable, arguments: arguments, input: input, environment: environment) })
            }
        }
    }

    /// Waits up to `timeout` for `process` to exit, polling, so that no thread is held; returns
    /// whether it did.
    public static func waitForExit(_ process: Process, within timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return !process.isRunning
    }

    /// Asks `process` to stop (SIGTERM) and waits; past `grace` it is killed.
    public static func terminate(_ process: Process, grace: Duration = .seconds(10)) async {
        if process.isRunning { process.terminate() }
        if await waitForExit(process, within: grace) { return }
        await kill(process)
    }

    /// Kills `process` (SIGKILL) and waits for it to be gone.
    public static func kill(_ process: Process) async {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        _ = await waitForExit(process, within: .seconds(10))
    }

    private static func runBlocking(_ executable: URL, arguments: [String], input: Data, environment: [String: String]?) throws -> Output {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let inputURL = folder.appendingPathComponent("stdin"), outURL = folder.appendingPathComponent("stdout"),
            errURL = folder.appendingPathComponent("stderr")
        try input.write(to: inputURL)
        try Data().write(to: outURL)
        try Data().write(to: errURL)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardInput = try FileHandle(forReadingFrom: inputURL)
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        try ChildProcess.launch(process)
        process.waitUntilExit()
        return Output(
            status: process.terminationStatus,
            stdout: try Data(contentsOf: outURL),
            stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self)
        )
    }
}
