import BuzzBridgeCore
import BuzzBridgeStorage
import Foundation
import Synchronization
import Testing

/// Under a steady stream of writes with readers always busy, SQLite's WAL never gets the idle
/// moment it needs to start over; the store must make one, or the WAL grows without end.
@Suite("SQLite store: WAL length under steady load")
struct WALLengthTests {
    @Test func theWALStaysBoundedWhileReadersNeverPause() async throws {
        // 256 pages (1 MB) instead of 16 MB, so that a few thousand writes show the difference.
        try await withTemporaryStore(walRestartPages: 256) { store, path in
            try await steadyLoad(on: store, walPath: path + "-wal")
        }
    }

    private func steadyLoad(on store: SQLiteStore, walPath: String) async throws {
        let session = activeSession("session_wal", name: "WAL")
        try await store.createSession(session)

        let load = LoadState()
        let writes = 6_000
        try await withThrowingTaskGroup(of: Void.self) { group in
            // Readers that never pause: some read always holds a snapshot of the WAL.
            for _ in 0..<2 {
                group.addTask {
                    while load.writing.load(ordering: .relaxed) {
                        _ = try await store.messages(MessageQuery(sessionID: session.id, limit: 20, offset: 0))
                        // Reads run on the caller's thread without suspending; the writers need it too.
                        await Task.yield()
                    }
                }
            }
            group.addTask {
                while load.writing.load(ordering: .relaxed) {
                    load.noteWAL(size: Self.fileSize(walPath))
                    try await Task.sleep(for: .milliseconds(5))
                }
            }
            // 32 writers at a time, each storing a message and then advancing it, as a send does.
            try await withThrowingTaskGroup(of: Void.self) { writers in
                for index in 0..<writes {
                    if index >= 32 { try await writers.next() }
                    writers.addTask {
                        let message = Self.message(index, in: session)
                        _ = try await store.insertMessage(message, events: [])
                        _ = try await store.advanceMessage(message.id, in: session.id, to: .read, at: .now(), externalID: nil) { _ in [] }
                    }
                }
                try await writers.waitForAll()
            }
            load.writing.store(false, ordering: .relaxed)
            try await group.waitForAll()
        }
        load.noteWAL(size: Self.fileSize(walPath))
        let page = try await store.messages(MessageQuery(sessionID: session.id, limit: 1, offset: 0))
        try await store.close()

        #expect(page.total == writes)
        // Every write adds pages to the WAL (12,000 transactions' worth, tens of MB, if it never
        // starts over); started over past 1 MB, it stays a few MB long.
        let megabytes = Double(load.largestWAL.load(ordering: .relaxed)) / 1_048_576
        #expect(megabytes < 8, "largest WAL: \(megabytes) MB")
    }

    private static func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }

    private static func message(_ index: Int, in session: Session) -> Message {
        Message(
            id: MessageID(rawValue: "msg_wal_\(index)"), sessionID: session.id, direction: .incoming,
            from: PhoneNumber("+6011\(String(format: "%07d", index % 500))")!, fromName: "Contact \(index % 500)",
            to: session.phoneNumber!, body: "message \(index) of a steady stream", status: .unread,
            timestamp: Timestamp(millisecondsSinceEpoch: 1_700_000_000_000 + Int64(index))
        )
    }
}

/// What the load's tasks share: whether writes go on, and the largest WAL seen.
private final class LoadState: Sendable {
    let writing = Atomic<Bool>(true)
    let largestWAL = Atomic<Int>(0)

    func noteWAL(size: Int) {
        var current = largestWAL.load(ordering: .relaxed)
        while size > current {
            let (exchanged, original) = largestWAL.compareExchange(expected: current, desired: size, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }
}
