import Foundation
import TestSupport

/// The built `buzzbridge` executable, run as a real process (first start output, CLI, crashes).
enum BuzzBridgeExecutable {
    static var url: URL {
        get throws {
            var candidates: [URL] = []
            if let override = ProcessInfo.processInfo.environment["BUZZBRIDGE_EXECUTABLE"] {
                candidates.append(URL(fileURLWithPath: override))
            }
            // swift test runs the test bundle from the build folder that also holds the executable.
            let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            candidates.append(runner.deletingLastPathComponent().appendingPathComponent("buzzbridge"))
            candidates.append(runner.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("buzzbridge"))
            candidates.append(PythonPeer.repositoryRoot.appendingPathComponent(".build/debug/buzzbridge"))
            guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
                throw TestFailure("no buzzbridge executable among \(candidates.map(\.path)); run `swift build --build-tests` first")
            }
            return found
        }
    }

    /// Runs a CLI command to completion and returns its output.
    static func run(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let result = try await ChildProcess.run(try url, arguments: arguments)
        return (result.status, result.text)
    }
}

/// `buzzbridge serve` as a child process, its standard output collected as it comes.
///
/// Stop it with ``terminate()`` or ``kill()``; one that a failing test leaves running is killed
/// when the last reference goes, so that no server outlives the test run.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    private let output = Pipe()
    private let lines = LockedLines()

    /// `environment` is added to the test process's own. With `openFiles`, the server runs under
    /// that descriptor limit (util-linux `prlimit`). With `logs`, standard error (the log) is
    /// collected with standard output.
    init(arguments: [String], environment: [String: String] = [:], openFiles: Int? = nil, logs: Bool = false) throws {
        if let openFiles {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
            process.arguments = ["--nofile=\(openFiles):\(openFiles)", "--", try BuzzBridgeExecutable.url.path] + arguments
        } else {
            process.executableURL = try BuzzBridgeExecutable.url
            process.arguments = arguments
        }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = output
        process.standardError = logs ? output : FileHandle.nullDevice
        let lines = self.lines
        output.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if !data.isEmpty { lines.append(String(decoding: data, as: UTF8.self)) }
        }
        try ChildProcess.launch(process)
    }

    deinit {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        output.fileHandleForReading.readabilityHandler = nil
    }

    /// Waits until the output contains `marker`, returning everything printed so far.
    func waitFor(_ marker: String, timeout: Duration = .seconds(30)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let text = lines.text
            if text.contains(marker) { return text }
            guard process.isRunning else { throw TestFailure("server exited: \(text)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("no \"\(marker)\" within \(timeout): \(lines.text)")
    }

    /// The address `serve` announces once it listens.
    func baseURL() async throws -> String {
        let text = try await waitFor("listening on ")
        guard let line = text.split(separator: "\n").first(where: { $0.contains("listening on ") }),
            let address = line.split(separator: " ").first(where: { $0.hasPrefix("http://") })
        else { throw TestFailure("no address in: \(text)") }
        return String(address)
    }

    /// CPU time the process has used so far, in clock ticks (utime + stime of /proc/PID/stat).
    var cpuTicks: Int {
        get throws {
            let stat = try String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8)
            // Fields after the command name, which is in parentheses and may hold spaces.
            guard let close = stat.lastIndex(of: ")") else { throw TestFailure("unreadable stat: \(stat)") }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // fields[0] is the state (field 3); utime and stime are fields 14 and 15.
            guard fields.count > 13, let user = Int(fields[11]), let system = Int(fields[12]) else { throw TestFailure("unreadable stat: \(stat)") }
            return user + system
        }
    }

    /// Stops the server as an operator would (SIGTERM) and waits for it to exit.
    func terminate() async {
        await ChildProcess.terminate(process)
    }

    /// Kills the server (SIGKILL), as a crash or a power cut would, and waits for it to be gone.
    func kill() async {
        await ChildProcess.kill(process)
    }
}

final class LockedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var buffer = ""
    func append(_ text: String) { lock.lock(); buffer += text; lock.unlock() }
    var text: String { lock.lock(); defer { lock.unlock() }; return buffer }
}
