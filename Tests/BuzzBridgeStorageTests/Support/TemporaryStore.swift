import BuzzBridgeCore
import BuzzBridgeStorage
import Foundation

/// A store on a fresh file in a folder of its own, removed afterwards; `body` gets the file's path.
func withTemporaryStore(readerCount: Int = 4, walRestartPages: Int = 4096, _ body: (SQLiteStore, String) async throws -> Void) async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-store-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let path = directory + "/buzzbridge.sqlite"
    try await body(try await SQLiteStore.open(path: path, readerCount: readerCount, walRestartPages: walRestartPages), path)
}

/// An active sandbox session linked to +60100000000.
func activeSession(_ id: String, name: String) -> Session {
    Session(
        id: SessionID(rawValue: id), kind: .sandbox, name: name, status: .active,
        phoneNumber: PhoneNumber("+60100000000"), createdAt: .now()
    )
}
