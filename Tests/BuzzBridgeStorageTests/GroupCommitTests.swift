import BuzzBridgeCore
import BuzzBridgeStorage
import Foundation
import Testing

/// Many callers write at once through the one SQLite writer: each is answered only for its own
/// write, a failing write undoes nothing of the others, and everything acknowledged is on disk.
@Suite("SQLite store: group-committed writes")
struct GroupCommitTests {
    private func session() -> Session { activeSession("session_groupcommit", name: "Group commit") }

    private func message(_ id: String, in session: Session, index: Int) -> Message {
        Message(
            id: MessageID(rawValue: id), sessionID: session.id, direction: .incoming,
            from: PhoneNumber("+6011\(String(format: "%07d", index % 10))")!,
            fromName: "Contact \(index % 10)", to: session.phoneNumber!, body: "message \(index)", status: .unread,
            timestamp: Timestamp(millisecondsSinceEpoch: 1_700_000_000_000 + Int64(index))
        )
    }

    @Test func concurrentWritesAreEachAnsweredAndAFailingOneUndoesOnlyItself() async throws {
        try await withTemporaryStore { store, path in
            let session = session()
            try await store.createSession(session)
            let count = 400
            // Every 50th write reuses an id that is already stored: the UNIQUE constraint refuses it.
            _ = try await store.insertMessage(message("msg_taken", in: session, index: 0), events: [])
            let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
                for index in 1...count {
                    group.addTask {
                        let id = index % 50 == 0 ? "msg_taken" : "msg_\(index)"
                        do {
                            return (index, try await store.insertMessage(message(id, in: session, index: index), events: []))
                        } catch {
                            return (index, false)
                        }
                    }
                }
                var outcomes: [Int: Bool] = [:]
                for await (index, inserted) in group { outcomes[index] = inserted }
                return outcomes
            }
            #expect(outcomes.count == count)
            for (index, inserted) in outcomes {
                #expect(inserted == (index % 50 != 0), "write \(index)")
            }
            let page = try await store.messages(MessageQuery(sessionID: session.id, limit: 100, offset: 0))
            #expect(page.total == count - count / 50 + 1)

            // Reopened from disk (a new process would see the same): every acknowledged write is there.
            try await store.close()
            let reopened = try await SQLiteStore.open(path: path)
            for index in [1, 49, 51, 399] {
                #expect(try await reopened.message(MessageID(rawValue: "msg_\(index)"), in: session.id)?.body == "message \(index)")
            }
            #expect(try await reopened.message(MessageID(rawValue: "msg_50"), in: session.id) == nil)
            #expect(try await reopened.message(MessageID(rawValue: "msg_taken"), in: session.id)?.body == "message 0")
            try await reopened.close()
        }
    }

    @Test func aWriteSeesTheWritesCommittedBeforeIt() async throws {
        try await withTemporaryStore { store, _ in
            let session = session()
            try await store.createSession(session)
            let original = message("msg_advance", in: session, index: 1)
            _ = try await store.insertMessage(original, events: [])
            // read after unread, then a step back to delivered is refused: the second write sees the first.
            let read = try await store.advanceMessage(original.id, in: session.id, to: .read, at: .now(), externalID: nil) { _ in [] }
            #expect(read?.status == .read)
            #expect(read?.readAt != nil)
            let backwards = try await store.advanceMessage(original.id, in: session.id, to: .delivered, at: .now(), externalID: nil) { _ in [] }
            #expect(backwards == nil)
            #expect(try await store.session(session.id)?.lastActivity != nil)
            try await store.close()
        }
    }
}
