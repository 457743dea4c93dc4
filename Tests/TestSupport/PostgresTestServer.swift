import Foundation

/// A PostgreSQL server of the test process's own, for tests of the PostgreSQL store: a new cluster
/// in a temporary folder, listening on a free loopback port only, started on first use and shared
/// by every test, each test taking a new database of its own. A watchdog stops it when the test
/// process is gone, however that process ends.
///
/// PostgreSQL refuses to run as root: under root the cluster belongs to the `postgres` user (Debian's
/// package makes it) and its programs run as that user. `scripts/setup-test-env` installs them.
public actor PostgresTestServer {
    public static let shared = PostgresTestServer()

    private var port: Int?
    private var watchdog: Process?

    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    /// `postgres://…` of a new, empty database on the shared server.
    public func newDatabaseURL() async throws -> String {
        let port = try await start()
        let name = "bzb_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        try await run(
            "psql",
            ["-h", "127.0.0.1", "-p", "\(port)", "-U", "buzzbridge", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", "CREATE DATABASE \(name)"])
        return "postgres://buzzbridge@127.0.0.1:\(port)/\(name)?sslmode=disable"
    }

    private func start() async throws -> Int {
        if let port { return port }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-pg-\(UUID().uuidString)").path
        let data = folder + "/data"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        if Self.isRoot { try FileManager.default.setAttributes([.ownerAccountName: "postgres"], ofItemAtPath: folder) }
        try await run("initdb", ["-D", data, "-U", "buzzbridge", "-A", "trust", "-E", "UTF8", "--no-sync"])
        let script = folder + "/watchdog.sh"
        // Starts the server, then stops it (fast shutdown) once the test process is gone.
        try """
        #!/bin/sh
        "$1" -D "$2" -p "$3" -k "$2" -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
            -c full_page_writes=off -c max_connections=200 > "$2/../server.log" 2>&1 &
        server=$!
        while [ -d "/proc/$4" ] && kill -0 "$server" 2>/dev/null; do sleep 1; done
        kill -INT "$server" 2>/dev/null
        wait "$server"
        rm -rf "$(dirname "$2")"
        """.write(toFile: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
        if Self.isRoot { try FileManager.default.setAttributes([.ownerAccountName: "postgres"], ofItemAtPath: script) }
        for _ in 0..<5 {
            // Below the ports the gateway tests pick for themselves (20000 up) and the kernel's
            // ephemeral range, so that the server never takes a port a test is about to bind.
            let port = Int.random(in: 15_000..<20_000)
            let process = Process()
            process.executableURL = try Self.asServerUser()
            process.arguments =
                try Self.serverUserArguments() + [
                    "/bin/sh", script, try Self.binary("postgres").path, data, "\(port)", "\(ProcessInfo.processInfo.processIdentifier)",
                ]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try ChildProcess.launch(process)
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline, process.isRunning {
                let ready = try? await run("pg_isready", ["-h", "127.0.0.1", "-p", "\(port)", "-U", "buzzbridge", "-d", "postgres"])
                if ready != nil {
                    self.port = port
                    self.watchdog = process
                    return port
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            // The port was taken, or the server did not come up: try another port.
            await ChildProcess.terminate(process)
        }
        let log = (try? String(contentsOfFile: folder + "/server.log", encoding: .utf8)) ?? ""
        throw Unavailable(description: "PostgreSQL did not start: \(log)")
    }

    /// Runs one of PostgreSQL's programs (as the server's user under root); throws unless it succeeds.
    @discardableResult
    private func run(_ program: String, _ arguments: [String]) async throws -> String {
        let output = try await ChildProcess.run(
            try Self.asServerUser(), arguments: try Self.serverUserArguments() + [try Self.binary(program).path] + arguments)
        guard output.status == 0 else { throw Unavailable(description: "\(program) \(arguments.joined(separator: " ")): \(output.text)") }
        return output.text
    }

    private static var isRoot: Bool { getuid() == 0 }

    private static func asServerUser() throws -> URL {
        URL(fileURLWithPath: isRoot ? "/usr/sbin/runuser" : "/usr/bin/env")
    }

    private static func serverUserArguments() throws -> [String] {
        isRoot ? ["-u", "postgres", "--"] : []
    }

    /// The newest installed major version's program (Debian keeps them in /usr/lib/postgresql/N/bin).
    static func binary(_ name: String) throws -> URL {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        guard let newest = versions.last else {
            throw Unavailable(description: "PostgreSQL is not installed (no \(root)); run scripts/setup-test-env")
        }
        return URL(fileURLWithPath: "\(root)/\(newest)/bin/\(name)")
    }
}
