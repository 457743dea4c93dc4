import Foundation

/// The WhatsApp server double (`Tests/peers/wa_server_double.py`) as a child process: started with
/// the test venv's interpreter in a folder of its own, and ready once it has printed its one JSON
/// line of endpoints. It serves until its standard input closes (``stop()``); a failing test that
/// leaves one running has it killed when the last reference goes.
public final class ServerDoubleProcess: @unchecked Sendable {
    /// The JSON line the double printed: its ports, CA file and Noise root key.
    public let announcement: Data
    public let folder: URL
    private let process = Process()
    private let input = Pipe()

    public init() async throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("wa-double-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let stdout = folder.appendingPathComponent("stdout"), stderr = folder.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: stdout.path, contents: nil)
        FileManager.default.createFile(atPath: stderr.path, contents: nil)
        process.executableURL = try PythonPeer.interpreter
        process.arguments = [PythonPeer.repositoryRoot.appendingPathComponent("Tests/peers/wa_server_double.py").path, "--dir", folder.path]
        process.environment = PythonPeer.environment
        process.standardInput = input
        process.standardOutput = try FileHandle(forWritingTo: stdout)
        process.standardError = try FileHandle(forWritingTo: stderr)
        try ChildProcess.launch(process)
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let text = String(decoding: (try? Data(contentsOf: stdout)) ?? Data(), as: UTF8.self)
            if text.contains("\n"), let line = text.split(separator: "\n").first {
                announcement = Data(line.utf8)
                return
            }
            guard process.isRunning, ContinuousClock.now < deadline else {
                let errors = String(decoding: (try? Data(contentsOf: stderr)) ?? Data(), as: UTF8.self)
                throw PythonPeer.Failure(description: "the double did not start: \(errors)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    deinit {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
    }

    public func stop() async {
        try? input.fileHandleForWriting.close()
        await ChildProcess.terminate(process, grace: .seconds(5))
        try? FileManager.default.removeItem(at: folder)
    }
}
