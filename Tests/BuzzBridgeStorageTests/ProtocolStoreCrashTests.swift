import BuzzBridgeCore
import BuzzBridgeStorage
import Foundation
import Testing

/// A process writing protocol state is killed (SIGKILL) between and inside the writes of a
/// pairing and of a prekey upload; the file reopened shows whole transactions only, and a
/// prekey id that may have reached the server is never given out again.
@Suite("SQLite store: protocol state survives kill -9")
struct ProtocolStoreCrashTests {
    private let session = SessionID(rawValue: "session_crashprobe")
    private let primary = ProtocolAddressKey(user: "100000000000001", device: 0)

    /// Runs the probe until it announces `stop`, kills it, and hands the reopened store and
    /// everything the probe printed to `check`.
    private func crash(_ scenario: String, at stop: String, check: (SQLiteStore, String) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-crash-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/buzzbridge.sqlite"
        let probe = try ProbeProcess(arguments: [path, scenario, stop])
        let ready = await probe.waitFor(line: "ready \(stop)")
        await probe.kill()
        #expect(ready, "the probe never reached \(stop): \(probe.text)")
        #expect(probe.terminatedBySIGKILL)
        let store = try await SQLiteStore.open(path: path)
        try await check(store, probe.text)
        try await store.close()
    }

    private struct PairingState: Equatable {
        var credentials: Bool, pairedDevice: Bool, identity: Bool, lid: Bool
    }

    private func pairingState(_ store: SQLiteStore) async throws -> PairingState {
        let primary = primary
        return try await store.readProtocolState(session: session) { state in
            PairingState(
                credentials: try state.credentials() != nil, pairedDevice: try state.pairedDevice() != nil,
                identity: try state.identity(of: primary) != nil, lid: try state.phone(forLID: primary.user) != nil
            )
        }
    }

    @Test(arguments: [
        ("committed-credentials", false),
        ("inside-pairing", false),
        ("committed-pairing", true),
    ])
    func aPairingIsStoredWholeOrNotAtAll(stop: String, paired: Bool) async throws {
        try await crash("pairing", at: stop) { store, _ in
            let state = try await pairingState(store)
            #expect(state == PairingState(credentials: true, pairedDevice: paired, identity: paired, lid: paired))
        }
    }

    @Test(arguments: ["inside-generation", "generated", "inside-marking", "uploaded"])
    func aPrekeyIDThatMayHaveBeenUploadedIsNeverGivenOutAgain(stop: String) async throws {
        try await crash("prekeys", at: stop) { store, printed in
            let session = session
            // The ids the probe may have sent to the server: only committed keys are ever uploaded.
            let uploaded: ClosedRange<UInt32>? = printed.split(separator: "\n").first { $0.hasPrefix("uploaded ") }.map { line in
                let parts = line.split(separator: " ")
                return UInt32(parts[1])!...UInt32(parts[2])!
            }
            let (stored, unuploaded) = try await store.readProtocolState(session: session) { state in
                (try (1...900).compactMap { try state.preKey(id: $0) }, try state.unuploadedPreKeys(limit: 1000))
            }
            switch stop {
            case "inside-generation":
                #expect(uploaded == nil)
                #expect(stored.isEmpty, "half a generation survived: \(stored.count) keys")
            case "generated", "inside-marking":
                // Committed but not (wholly) marked: the engine uploads these same keys again.
                #expect(uploaded == 1...812)
                #expect(stored.count == 812)
                #expect(unuploaded.count == 812)
            default:
                #expect(uploaded == 1...812)
                #expect(stored.count == 812 && stored.allSatisfy(\.uploaded))
                #expect(unuploaded.isEmpty)
            }
            // Each stored key is the one generated for its id (no id reused for another key).
            #expect(stored.allSatisfy { $0.record == Array("prekey-\($0.id)".utf8) })
            let fresh = try await store.withTransaction(session: session) { try $0.reservePreKeyIDs(count: 50) }
            #expect(fresh.count == 50)
            if let uploaded { #expect(fresh.allSatisfy { !uploaded.contains($0) }, "ids given out twice: \(fresh)") }
            #expect(Set(fresh).isDisjoint(with: stored.map(\.id)))
        }
    }
}
