import Foundation
import TestSupport

/// `Tests/peers/tcp_cut_proxy.py`: a loopback relay to a TCP port whose link the test can cut, as
/// a network cut between a node and its database would. It ends with the test process (its stdin
/// closes).
final class CutProxy: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let lines = LockedLines()

    init(to port: Int) throws {
        process.executableURL = try PythonPeer.interpreter
        process.arguments = [PythonPeer.repositoryRoot.appendingPathComponent("Tests/peers/tcp_cut_proxy.py").path, "127.0.0.1", "\(port)"]
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let lines = self.lines
        output.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if !data.isEmpty { lines.append(String(decoding: data, as: UTF8.self)) }
        }
        try ChildProcess.launch(process)
    }

    deinit {
        output.fileHandleForReading.readabilityHandler = nil
        if process.isRunning { process.terminate() }
    }

    /// The port the relay listens on.
    func port() async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            if let line = lines.text.split(separator: "\n").first,
                let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let port = json["port"] as? Int
            {
                return port
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("tcp_cut_proxy.py printed no port: \(lines.text)")
    }

    /// No byte passes from now on, in either direction.
    func cut() throws {
        try input.fileHandleForWriting.write(contentsOf: Data("cut\n".utf8))
    }

    func stop() async {
        try? input.fileHandleForWriting.close()
        await ChildProcess.terminate(process, grace: .seconds(5))
    }
}
