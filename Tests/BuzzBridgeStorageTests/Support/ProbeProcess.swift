import Foundation
import Synchronization
import TestSupport

/// The `ProtocolStoreProbe` executable, run as a child that is killed at a point it announces.
final class ProbeProcess: Sendable {
    private let process: Process
    private let output: OutputBuffer

    static var executable: URL {
        get throws {
            // swift test runs the test bundle from the build folder that also holds the executables.
            let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            let candidates = [
                runner.deletingLastPathComponent().appendingPathComponent("ProtocolStoreProbe"),
                runner.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("ProtocolStoreProbe"),
                PythonPeer.repositoryRoot.appendingPathComponent(".build/debug/ProtocolStoreProbe"),
            ]
            guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
                throw ProbeMissing(description: "no ProtocolStoreProbe among \(candidates.map(\.path)); build with --build-tests first")
            }
            return found
        }
    }

    init(arguments: [String]) throws {
        let process = Process()
        let pipe = Pipe()
        let output = OutputBuffer()
        process.executableURL = try Self.executable
        process.arguments = arguments
        process.standardOutput = pipe
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            output.append(String(decoding: data, as: UTF8.self))
        }
        try ChildProcess.launch(process)
        self.process = process
        self.output = output
    }

    var text: String { output.text }

    /// Waits (polling, no thread held) until the child printed `line`; false if it exited or took too long.
    func waitFor(line: String, within timeout: Duration = .seconds(60)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if text.split(separator: "\n").contains(Substring(line)) { return true }
            if !process.isRunning, !text.split(separator: "\n").contains(Substring(line)) {
                try? await Task.sleep(for: .milliseconds(100))
                return text.split(separator: "\n").contains(Substring(line))
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    func kill() async {
        await ChildProcess.kill(process)
    }

    var terminatedBySIGKILL: Bool {
        !process.isRunning && process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL
    }
}

struct ProbeMissing: Error, CustomStringConvertible {
    let description: String
}

/// What the probe printed so far, appended from the pipe's reading thread.
final class OutputBuffer: Sendable {
    private let buffer = Mutex("")

    func append(_ text: String) { buffer.withLock { $0 += text } }
    var text: String { buffer.withLock { $0 } }
}
