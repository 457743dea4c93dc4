import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

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
        try await BlockingWork.run { try runBlocking(executable, arguments: arguments, input: input, environment: environment) }
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
        let status = try spawnAndWait(
            executable.path, arguments: arguments, environment: environment ?? ProcessInfo.processInfo.environment,
            stdin: inputURL.path, stdout: outURL.path, stderr: errURL.path
        )
        return Output(
            status: status,
            stdout: try Data(contentsOf: outURL),
            stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self)
        )
    }

    /// Runs a program to completion with posix_spawn, its standard streams on files. The child
    /// inherits every descriptor of the test process that is not close-on-exec (NIO's sockets and
    /// SQLite's files are): a test's own socket must be opened with `SOCK_CLOEXEC`, or a child
    /// run meanwhile holds it open. Children run to completion use this
    /// rather than Foundation's `Process.run()`, which crashed (a bad read in its memcpy) in full
    /// test runs while other tests held hundreds of sockets open.
    private static func spawnAndWait(
        _ path: String, arguments: [String], environment: [String: String], stdin: String, stdout: String, stderr: String
    ) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, envp)
        guard spawned == 0 else { throw SpawnFailure(description: "posix_spawn \(path): error \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            guard errno == EINTR else { throw SpawnFailure(description: "waitpid \(path): errno \(errno)") }
        }
        // WIFEXITED / WEXITSTATUS, and a signal as 128 + its number, as a shell reports it.
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    public struct SpawnFailure: Error, CustomStringConvertible {
        public let description: String
    }
}
