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
        let result = try await PythonPeer.runProcess(try url, arguments: arguments)
        return (result.status, String(decoding: result.stdout, as: UTF8.self) + result.stderr)
    }
}

/// `buzzbridge serve` as a child process, its standard output read line by line.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    private let output = Pipe()
    private let lines = LockedLines()

    init(arguments: [String]) throws {
        process.executableURL = try BuzzBridgeExecutable.url
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let lines = self.lines
        output.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if !data.isEmpty { lines.append(String(decoding: data, as: UTF8.self)) }
        }
        try process.run()
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

    func terminate() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        output.fileHandleForReading.readabilityHandler = nil
    }

    func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        output.fileHandleForReading.readabilityHandler = nil
    }
}

final class LockedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var buffer = ""
    func append(_ text: String) { lock.lock(); buffer += text; lock.unlock() }
    var text: String { lock.lock(); defer { lock.unlock() }; return buffer }
}
