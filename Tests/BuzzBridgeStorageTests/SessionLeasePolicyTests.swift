import BuzzBridgeCore
import BuzzBridgePostgres
import Testing

/// Who may take, keep and give back a session's lease, decided without a database.
@Suite("Session lease policy")
struct SessionLeasePolicyTests {
    private let now = Timestamp(millisecondsSinceEpoch: 1_000_000)
    private let nodeA = SessionLeasePolicy(node: "node-a", duration: .seconds(15))
    private let nodeB = SessionLeasePolicy(node: "node-b", duration: .seconds(15))

    private func record(_ owner: String?, token: Int64, expiresIn milliseconds: Int64) -> SessionLeaseRecord {
        SessionLeaseRecord(owner: owner, token: token, expiresAt: now.adding(milliseconds: milliseconds))
    }

    @Test func aLeaseNeverTakenIsGrantedWithANewToken() {
        let free = SessionLeaseRecord(owner: nil, token: 0, expiresAt: Timestamp(millisecondsSinceEpoch: 0))
        #expect(nodeA.acquire(free, now: now) == .write(owner: "node-a", expiresAt: now.adding(milliseconds: 15_000), newToken: true))
    }

    @Test func aReleasedLeaseIsGrantedAtOnceWithANewToken() {
        let released = record(nil, token: 7, expiresIn: 10_000)
        #expect(nodeB.acquire(released, now: now) == .write(owner: "node-b", expiresAt: now.adding(milliseconds: 15_000), newToken: true))
    }

    @Test func aLiveLeaseIsRefusedToEveryoneIncludingItsHolder() {
        let live = record("node-a", token: 3, expiresIn: 1)
        #expect(nodeB.acquire(live, now: now) == .refuse(.held(owner: "node-a", until: now.adding(milliseconds: 1))))
        #expect(nodeA.acquire(live, now: now) == .refuse(.held(owner: "node-a", until: now.adding(milliseconds: 1))))
    }

    @Test func anExpiredLeaseIsTakenOverWithANewToken() {
        for expired in [record("node-a", token: 3, expiresIn: 0), record("node-a", token: 3, expiresIn: -5_000)] {
            #expect(nodeB.acquire(expired, now: now) == .write(owner: "node-b", expiresAt: now.adding(milliseconds: 15_000), newToken: true))
        }
    }

    @Test func onlyTheHolderWithItsTokenRenewsAndKeepsTheToken() {
        let live = record("node-a", token: 3, expiresIn: 2_000)
        #expect(nodeA.renew(live, token: 3, now: now) == .write(owner: "node-a", expiresAt: now.adding(milliseconds: 15_000), newToken: false))
        #expect(nodeA.renew(live, token: 2, now: now) == .refuse(.notHolder(owner: "node-a", token: 3)))
        #expect(nodeB.renew(live, token: 3, now: now) == .refuse(.notHolder(owner: "node-a", token: 3)))
        #expect(nodeA.renew(record(nil, token: 3, expiresIn: 0), token: 3, now: now) == .refuse(.notHolder(owner: nil, token: 3)))
    }

    @Test func anExpiredLeaseNobodyTookIsStillRenewedByItsHolder() {
        // Its token is still the current one, so no other node has written since: renewing is safe.
        let expired = record("node-a", token: 3, expiresIn: -1_000)
        #expect(nodeA.renew(expired, token: 3, now: now) == .write(owner: "node-a", expiresAt: now.adding(milliseconds: 15_000), newToken: false))
    }

    @Test func onlyTheHolderWithItsTokenReleasesAndTheTokenStays() {
        let live = record("node-a", token: 3, expiresIn: 2_000)
        #expect(nodeA.release(live, token: 3, now: now) == .write(owner: nil, expiresAt: now, newToken: false))
        #expect(nodeA.release(live, token: 4, now: now) == .refuse(.notHolder(owner: "node-a", token: 3)))
        #expect(nodeB.release(live, token: 3, now: now) == .refuse(.notHolder(owner: "node-a", token: 3)))
    }

    @Test func aWriterIsAdmittedOnlyWithTheCurrentToken() {
        let session = SessionID(rawValue: "session_fence")
        #expect(SessionLeasePolicy.fence(session: session, writerToken: 3, currentToken: 3) == nil)
        #expect(
            SessionLeasePolicy.fence(session: session, writerToken: 3, currentToken: 4) == .fenced(session: session, writerToken: 3, currentToken: 4))
        #expect(
            SessionLeasePolicy.fence(session: session, writerToken: nil, currentToken: 4)
                == .fenced(session: session, writerToken: nil, currentToken: 4))
        #expect(
            SessionLeasePolicy.fence(session: session, writerToken: 3, currentToken: nil)
                == .fenced(session: session, writerToken: 3, currentToken: nil))
    }
}
