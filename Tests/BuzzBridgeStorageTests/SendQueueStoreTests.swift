import BuzzBridgeCore
import BuzzBridgePostgres
import BuzzBridgeStorage
import Foundation
import Synchronization
import TestSupport
import Testing

/// The send queue of several nodes on a real PostgreSQL database shared by two stores, as two
/// nodes share it: a queued send wakes the listeners, is claimed once, and a claim a previous
/// owner left unrecorded is handed back as abandoned, never to be sent again.
@Suite("PostgreSQL send queue")
struct SendQueueStoreTests {
    private func outgoing(_ session: SessionID, _ text: String) -> Message {
        Message(
            id: .generate(), sessionID: session, direction: .outgoing, from: PhoneNumber("+60100000000")!, to: PhoneNumber("+60111111111")!,
            body: text, status: .pending, timestamp: .now())
    }

    @Test func aQueuedSendWakesTheListenersIsClaimedOnceAndAnUnrecordedClaimIsAbandoned() async throws {
        let url = try await PostgresTestServer.shared.newDatabaseURL()
        let nodeA = try await PostgresStore.open(url: url, leases: SessionLeasePolicy(node: "node-a", duration: .seconds(5)))
        let nodeB = try await PostgresStore.open(url: url, leases: SessionLeasePolicy(node: "node-b", duration: .seconds(5)))
        let session = activeSession("session_queued", name: "Queued")
        try await nodeA.createSession(session)
        let queueA = try #require(nodeA.sendQueue)
        let queueB = try #require(nodeB.sendQueue)

        let woken = Mutex<[SessionID]>([])
        let listener = Task { try await queueA.listen { id in woken.withLock { $0.append(id) } } }
        defer { listener.cancel() }
        try await Task.sleep(for: .milliseconds(300))

        // node-b queues a send with an Idempotency-Key: stored pending, the key with it, node-a woken.
        let first = outgoing(session.id, "first")
        try await queueB.enqueue(first, idempotency: IdempotencyTag(key: "k1", fingerprint: "f1"))
        #expect(try await nodeA.message(first.id, in: session.id)?.status == .pending)
        #expect(try await nodeA.idempotentSend(key: "k1", in: session.id)?.message.id == first.id)
        #expect(try await queueA.queuedSessions(among: [session.id, SessionID(rawValue: "session_other")]) == [session.id])
        let deadline = ContinuousClock.now + .seconds(5)
        while woken.withLock({ $0.isEmpty }), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(woken.withLock { $0 } == [session.id])

        // Claimed once, under token 5; a second claim (any node, any token as big) finds nothing.
        let claim = try await queueA.claim(session: session.id, token: 5, limit: 10)
        #expect(claim.claimed.map(\.id) == [first.id] && claim.abandoned.isEmpty)
        #expect(try await queueB.claim(session: session.id, token: 5, limit: 10) == QueueClaim(claimed: [], abandoned: []))

        // The owner under token 5 stopped before recording: the next owner (token 6) gets it as
        // abandoned, not to send; failing it removes the entry.
        let later = try await queueB.claim(session: session.id, token: 6, limit: 10)
        #expect(later.claimed.isEmpty && later.abandoned.map(\.id) == [first.id])
        let failed = try await queueB.finish(first.id, in: session.id, as: .failed, at: .now(), externalID: nil) { _ in [] }
        #expect(failed?.status == .failed)
        #expect(try await queueB.claim(session: session.id, token: 7, limit: 10) == QueueClaim(claimed: [], abandoned: []))
        #expect(try await queueA.queuedSessions(among: [session.id]).isEmpty)

        // A claim given back is claimed again; sent, its entry goes with the status change.
        let second = outgoing(session.id, "second")
        let third = outgoing(session.id, "third")
        try await queueB.enqueue(second, idempotency: nil)
        try await queueB.enqueue(third, idempotency: nil)
        #expect(try await queueA.claim(session: session.id, token: 7, limit: 1).claimed.map(\.id) == [second.id])
        try await queueA.unclaim(second.id, in: session.id)
        #expect(try await queueA.claim(session: session.id, token: 7, limit: 5).claimed.map(\.id) == [second.id, third.id])
        try await queueA.assign(externalID: "SBX1", to: second.id, in: session.id)
        #expect(try await nodeA.message(second.id, in: session.id)?.externalID == "SBX1")
        let sent = try await queueA.finish(second.id, in: session.id, as: .sent, at: .now(), externalID: "SBX1") { _ in [] }
        #expect(sent?.status == .sent && sent?.externalID == "SBX1")
        // Only the third is still queued (claimed under 7, so a later owner finds it abandoned).
        #expect(try await queueA.claim(session: session.id, token: 8, limit: 5).abandoned.map(\.id) == [third.id])

        // Cancelling the listener ends it (a node's graceful shutdown waits for it).
        listener.cancel()
        let ended = Task {
            _ = await listener.result
            return true
        }
        let stopped = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { await ended.value }
            group.addTask {
                try await Task.sleep(for: .seconds(5))
                return false
            }
            defer { group.cancelAll() }
            return try await group.next() ?? false
        }
        #expect(stopped, "the listener did not end on cancellation")
        try await nodeA.close()
        try await nodeB.close()
    }

    @Test func aStoreServingOneNodeHasNoQueue() async throws {
        let url = try await PostgresTestServer.shared.newDatabaseURL()
        let store = try await PostgresStore.open(url: url)
        #expect(store.sendQueue == nil)
        try await store.close()
        try await withTemporaryStore { sqlite, _ in #expect(sqlite.sendQueue == nil) }
    }
}
