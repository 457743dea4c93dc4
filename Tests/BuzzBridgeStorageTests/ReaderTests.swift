import BuzzBridgeCore
import BuzzBridgeStorage
import Foundation
import Testing

/// Reads take a free reader connection without waiting and fall back to the reader pool when all
/// are taken; whichever connection serves a read, it sees every write acknowledged before it began.
@Suite("SQLite store: reader connections")
struct ReaderTests {
    private func message(_ index: Int, in session: Session) -> Message {
        Message(
            id: MessageID(rawValue: "msg_reader_\(index)"), sessionID: session.id, direction: .incoming,
            from: PhoneNumber("+6011\(String(format: "%07d", index % 7))")!, fromName: "Contact", to: session.phoneNumber!,
            body: "message \(index)", status: .unread, timestamp: Timestamp(millisecondsSinceEpoch: 1_700_000_000_000 + Int64(index))
        )
    }

    @Test func manyConcurrentReadsOnOneReaderConnectionEachSeeTheWritesBeforeThem() async throws {
        // One reader connection: a read that finds it taken by another goes to the pool.
        try await withTemporaryStore(readerCount: 1) { store, _ in
            let session = activeSession("session_readers", name: "Readers")
            try await store.createSession(session)
            let writers = 40
            let failures = await withTaskGroup(of: String?.self) { group in
                for index in 0..<writers {
                    group.addTask {
                        do {
                            _ = try await store.insertMessage(message(index, in: session), events: [])
                            // Acknowledged: every read from now on, on any connection, must see it.
                            for _ in 0..<5 {
                                let stored = try await store.message(MessageID(rawValue: "msg_reader_\(index)"), in: session.id)
                                guard stored?.body == "message \(index)" else { return "message \(index) not seen after its write" }
                                let page = try await store.messages(MessageQuery(sessionID: session.id, limit: 1, offset: 0))
                                guard page.total >= 1 else { return "an empty page after message \(index)" }
                            }
                            return nil
                        } catch {
                            return "message \(index): \(error)"
                        }
                    }
                }
                var failures: [String] = []
                for await failure in group { if let failure { failures.append(failure) } }
                return failures
            }
            #expect(failures.isEmpty, "\(failures)")
            #expect(try await store.messages(MessageQuery(sessionID: session.id, limit: 1, offset: 0)).total == writers)
            try await store.close()
        }
    }

    @Test func aClosedStoreRefusesReads() async throws {
        try await withTemporaryStore { store, _ in
            let session = activeSession("session_closed", name: "Closed")
            try await store.createSession(session)
            #expect(try await store.session(session.id) != nil)
            try await store.close()
            await #expect(throws: (any Error).self) { _ = try await store.session(session.id) }
        }
    }
}
