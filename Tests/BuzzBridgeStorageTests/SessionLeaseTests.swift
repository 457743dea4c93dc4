import BuzzBridgeCore
import BuzzBridgePostgres
import BuzzBridgeStorage
import Foundation
import TestSupport
import Testing

/// Session ownership leases and the fencing of protocol writes, on a real PostgreSQL database
/// shared by two stores as two nodes share it. (SQLite serves one node and has no leases.)
@Suite("PostgreSQL session leases and fencing")
struct SessionLeaseTests {
    private let peer = ProtocolAddressKey(user: "60123456789", device: 0)

    /// Two nodes' stores on one new database, opened with leases of `duration`, and one session.
    private func withTwoNodes(
        duration: Duration, _ body: (PostgresStore, PostgresStore, SessionID) async throws -> Void
    ) async throws {
        let url = try await PostgresTestServer.shared.newDatabaseURL()
        let nodeA = try await PostgresStore.open(url: url, leases: SessionLeasePolicy(node: "node-a", duration: duration))
        let nodeB = try await PostgresStore.open(url: url, leases: SessionLeasePolicy(node: "node-b", duration: duration))
        let session = activeSession("session_leased", name: "Leased")
        do {
            try await nodeA.createSession(session)
            try await body(nodeA, nodeB, session.id)
        } catch {
            try? await nodeA.close()
            try? await nodeB.close()
            throw error
        }
        try await nodeA.close()
        try await nodeB.close()
    }

    private func signalRecord(_ store: PostgresStore, _ session: SessionID) async throws -> [UInt8]? {
        try await store.readProtocolState(session: session) { [peer] in try $0.signalSession(with: peer) }
    }

    /// Waits until `lease` has expired by the database's clock (the clock every node judges by).
    private func waitUntilExpired(_ lease: SessionLease, _ leases: SessionLeases) async throws {
        while try await leases.databaseTime() <= lease.expiresAt { try await Task.sleep(for: .milliseconds(100)) }
    }

    @Test func anExpiredOwnerIsFencedOutAndItsSuccessorWrites() async throws {
        // Long enough that a loaded machine cannot let it run out before the checks of a live lease.
        try await withTwoNodes(duration: .seconds(10)) { nodeA, nodeB, session in
            let a = try #require(nodeA.leases)
            let b = try #require(nodeB.leases)
            let leaseA = try await a.acquire(session)
            #expect(leaseA.owner == "node-a" && leaseA.token > 0)
            #expect(a.token(of: session) == leaseA.token)

            // The owner writes; the other node can neither take the live lease nor write.
            try await nodeA.withTransaction(session: session) { [peer] tx in
                try tx.putSignalSession([1], with: peer)
                _ = try tx.reservePreKeyIDs(count: 2)
            }
            await #expect(throws: SessionLeaseError.held(owner: "node-a", until: leaseA.expiresAt)) { try await b.acquire(session) }
            await #expect(throws: SessionLeaseError.fenced(session: session, writerToken: nil, currentToken: leaseA.token)) {
                try await nodeB.withTransaction(session: session) { [peer] tx in try tx.putSignalSession([9], with: peer) }
            }
            #expect(try await signalRecord(nodeA, session) == [1])

            // Renewing keeps the token and moves the expiry on.
            let renewed = try await a.renew(leaseA)
            #expect(renewed.token == leaseA.token && renewed.expiresAt >= leaseA.expiresAt)

            // A stops renewing (paused, cut off); once its lease has expired B takes over with a bigger token.
            try await waitUntilExpired(renewed, b)
            let leaseB = try await b.acquire(session)
            #expect(leaseB.owner == "node-b" && leaseB.token > leaseA.token)

            // A still believes it owns the session: its writes are refused and leave everything as it was.
            #expect(a.token(of: session) == leaseA.token)
            let stale = SessionLeaseError.fenced(session: session, writerToken: leaseA.token, currentToken: leaseB.token)
            await #expect(throws: stale) {
                try await nodeA.withTransaction(session: session) { [peer] tx in try tx.putSignalSession([2], with: peer) }
            }
            await #expect(throws: stale) { try await nodeA.withTransaction(session: session) { try $0.reservePreKeyIDs(count: 5) } }
            await #expect(throws: stale) { try await nodeA.wipeProtocolState(session: session) }
            #expect(try await signalRecord(nodeA, session) == [1])
            #expect(try await nodeA.readProtocolState(session: session) { try $0.nextPreKeyID() } == 3)
            // Nor may it renew or release what it lost.
            await #expect(throws: SessionLeaseError.notHolder(owner: "node-b", token: leaseB.token)) { try await a.renew(leaseA) }
            await #expect(throws: SessionLeaseError.notHolder(owner: "node-b", token: leaseB.token)) { try await a.release(leaseA) }
            // A failed renewal makes the node forget the token it lost.
            #expect(a.token(of: session) == nil)

            // The successor's writes land.
            try await nodeB.withTransaction(session: session) { [peer] tx in try tx.putSignalSession([3], with: peer) }
            #expect(try await nodeB.withTransaction(session: session) { try $0.reservePreKeyIDs(count: 2) } == [3, 4])
            #expect(try await signalRecord(nodeA, session) == [3])
        }
    }

    @Test func aReleasedLeaseIsTakenAtOnceAndTokensAreNeverReused() async throws {
        try await withTwoNodes(duration: .seconds(60)) { nodeA, nodeB, session in
            let a = try #require(nodeA.leases)
            let b = try #require(nodeB.leases)
            let first = try await a.acquire(session)
            try await a.release(first)
            #expect(a.token(of: session) == nil)
            // A released lease is free at once, long before its expiry, and the token moves on.
            let second = try await b.acquire(session)
            #expect(second.token > first.token)
            try await nodeB.withTransaction(session: session) { [peer] tx in try tx.putSignalSession([5], with: peer) }
            try await b.release(second)
            // The released owner no longer writes: fencing admits only a current holder's token.
            await #expect(throws: SessionLeaseError.fenced(session: session, writerToken: nil, currentToken: nil)) {
                try await nodeB.withTransaction(session: session) { [peer] tx in try tx.putSignalSession([6], with: peer) }
            }
            let third = try await a.acquire(session)
            #expect(third.token > second.token)
            try await nodeA.withTransaction(session: session) { [peer] tx in try tx.putSignalSession([7], with: peer) }
            #expect(try await signalRecord(nodeB, session) == [7])
        }
    }

    @Test func aTakeoverWaitsForTheOldOwnersWriteInFlight() async throws {
        // The fence holds a row lock on the lease until its transaction commits, so a takeover that
        // starts while the old owner is writing lands after that write, never in the middle of it.
        try await withTwoNodes(duration: .milliseconds(500)) { nodeA, nodeB, session in
            let a = try #require(nodeA.leases)
            let b = try #require(nodeB.leases)
            let leaseA = try await a.acquire(session)
            let writing = Task { [peer] in
                try await nodeA.withTransaction(session: session) { tx in
                    try tx.putSignalSession([1], with: peer)
                    Thread.sleep(forTimeInterval: 1.5)
                }
            }
            try await Task.sleep(for: .milliseconds(800))
            // A's lease has expired by now; without the row lock B would take it at once.
            let started = ContinuousClock.now
            let leaseB = try await b.acquire(session)
            #expect(ContinuousClock.now - started >= .milliseconds(400))
            try await writing.value
            #expect(leaseB.token > leaseA.token)
            #expect(try await signalRecord(nodeB, session) == [1])
        }
    }

    @Test func twoNodesAcquiringAtOnceGetOneLeaseBetweenThem() async throws {
        try await withTwoNodes(duration: .seconds(60)) { nodeA, nodeB, session in
            let a = try #require(nodeA.leases)
            let b = try #require(nodeB.leases)
            @Sendable func attempt(_ leases: SessionLeases) async -> Result<SessionLease, any Error> {
                do { return .success(try await leases.acquire(session)) } catch { return .failure(error) }
            }
            for _ in 0..<5 {
                async let first = attempt(a)
                async let second = attempt(b)
                let results = await [first, second]
                let granted = results.compactMap { try? $0.get() }
                #expect(granted.count == 1)
                let winner = try #require(granted.first)
                for case .failure(let error) in results {
                    #expect(error as? SessionLeaseError == .held(owner: winner.owner, until: winner.expiresAt))
                }
                try await (winner.owner == "node-a" ? a : b).release(winner)
            }
        }
    }

    @Test func renewingAllAtOnceKeepsTheLeasesStillHeldAndForgetsTheOthers() async throws {
        try await withTwoNodes(duration: .seconds(6)) { nodeA, nodeB, kept in
            let a = try #require(nodeA.leases)
            let b = try #require(nodeB.leases)
            let other = activeSession("session_taken", name: "Taken")
            try await nodeA.createSession(other)
            let keptLease = try await a.acquire(kept)
            let takenLease = try await a.acquire(other.id)
            #expect(try await a.renew(all: []).isEmpty)

            // A's leases expire unrenewed; B takes one of them.
            try await waitUntilExpired(takenLease, b)
            let leaseB = try await b.acquire(other.id)

            // One statement: the lease nobody took is renewed (expired but unreplaced, its token is
            // still current), the taken one is left out and forgotten, so A's writes there are fenced.
            let renewed = try await a.renew(all: [keptLease, takenLease])
            #expect(renewed.map(\.session) == [kept])
            #expect(renewed.first?.token == keptLease.token)
            #expect(try #require(renewed.first?.expiresAt) > keptLease.expiresAt)
            #expect(a.token(of: kept) == keptLease.token)
            #expect(a.token(of: other.id) == nil)
            await #expect(throws: SessionLeaseError.held(owner: "node-a", until: try #require(renewed.first?.expiresAt))) {
                try await b.acquire(kept)
            }
            await #expect(throws: SessionLeaseError.fenced(session: other.id, writerToken: nil, currentToken: leaseB.token)) {
                try await nodeA.withTransaction(session: other.id) { [peer] tx in try tx.putSignalSession([7], with: peer) }
            }
            try await nodeA.withTransaction(session: kept) { [peer] tx in try tx.putSignalSession([8], with: peer) }
            #expect(try await signalRecord(nodeA, kept) == [8])
        }
    }

    @Test func aStoreWithoutLeasesWritesAsOneNodeAlways() async throws {
        let store = try await PostgresStore.open(url: try await PostgresTestServer.shared.newDatabaseURL())
        let session = activeSession("session_single", name: "Single")
        try await store.createSession(session)
        #expect(store.leases == nil)
        try await store.withTransaction(session: session.id) { [peer] tx in try tx.putSignalSession([1], with: peer) }
        #expect(try await signalRecord(store, session.id) == [1])
        try await store.close()
    }
}
