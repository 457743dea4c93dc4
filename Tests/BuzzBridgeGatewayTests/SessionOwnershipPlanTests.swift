import BuzzBridgeCore
import BuzzBridgeStorage
import Testing

@testable import BuzzBridgeGateway

/// The decisions of several nodes about session leases, without a database: spreading, takeover
/// of expired leases, handing over the excess and moves, and which engines run.
@Suite("Session ownership plan")
struct SessionOwnershipPlanTests {
    private let now = Timestamp(millisecondsSinceEpoch: 1_000_000)
    private func ids(_ names: String...) -> [SessionID] { names.map { SessionID(rawValue: $0) } }
    private func active(_ names: String...) -> [SessionID: SessionStatus] {
        Dictionary(uniqueKeysWithValues: names.map { (SessionID(rawValue: $0), SessionStatus.active) })
    }
    private func live(_ owner: String) -> LeaseState { LeaseState(owner: owner, expiresAt: now.adding(milliseconds: 5000)) }
    private func expired(_ owner: String) -> LeaseState { LeaseState(owner: owner, expiresAt: now.adding(milliseconds: -1)) }

    @Test func aLoneNodeTakesEveryFreeSession() {
        let plan = SessionOwnershipPlan(node: "a")
        let actions = plan.leaseActions(
            sessions: active("s1", "s2", "s3"), held: [], survey: OwnershipSurvey(now: now, leases: [:], liveNodes: ["a"]))
        #expect(actions.acquire == ids("s1", "s2", "s3"))
        #expect(actions.renew.isEmpty && actions.release.isEmpty && actions.forget.isEmpty)
    }

    @Test func freeSessionsAreSpreadOverTheLiveNodesAndEachNodeTakesOnlyItsPart() {
        let sessions = active("s1", "s2", "s3", "s4")
        let survey = OwnershipSurvey(now: now, leases: [:], liveNodes: ["a", "b"])
        let a = SessionOwnershipPlan(node: "a").leaseActions(sessions: sessions, held: [], survey: survey)
        let b = SessionOwnershipPlan(node: "b").leaseActions(sessions: sessions, held: [], survey: survey)
        #expect(a.acquire == ids("s1", "s3"))
        #expect(b.acquire == ids("s2", "s4"))
    }

    @Test func aNewSessionGoesToTheLeastLoadedLiveNode() {
        var sessions = active("s1", "s2", "s3")
        sessions[SessionID(rawValue: "s4")] = .disconnected
        let leases = [SessionID(rawValue: "s1"): live("a"), SessionID(rawValue: "s2"): live("a"), SessionID(rawValue: "s3"): live("b")]
        let survey = OwnershipSurvey(now: now, leases: leases, liveNodes: ["a", "b"])
        let a = SessionOwnershipPlan(node: "a").leaseActions(sessions: sessions, held: Set(ids("s1", "s2")), survey: survey)
        let b = SessionOwnershipPlan(node: "b").leaseActions(sessions: sessions, held: Set(ids("s3")), survey: survey)
        #expect(a.acquire.isEmpty)
        #expect(a.renew == ids("s1", "s2"))
        #expect(b.acquire == ids("s4"))
    }

    @Test func aDeadNodesLeasesAreTakenOnlyOnceExpired() {
        let sessions = active("s1", "s2", "s3", "s4")
        let held = Set(ids("s1", "s2"))
        var leases = [SessionID(rawValue: "s1"): live("a"), SessionID(rawValue: "s2"): live("a")]
        // b is gone from the live nodes, but one of its grants has not expired yet.
        leases[SessionID(rawValue: "s3")] = live("b")
        leases[SessionID(rawValue: "s4")] = expired("b")
        let actions = SessionOwnershipPlan(node: "a").leaseActions(
            sessions: sessions, held: held, survey: OwnershipSurvey(now: now, leases: leases, liveNodes: ["a"]))
        #expect(actions.acquire == ids("s4"))
        #expect(actions.renew == ids("s1", "s2"))
    }

    @Test func aReleasedLeaseIsFreeAtOnce() {
        let leases = [SessionID(rawValue: "s1"): LeaseState(owner: nil, expiresAt: now)]
        let actions = SessionOwnershipPlan(node: "a").leaseActions(
            sessions: active("s1"), held: [], survey: OwnershipSurvey(now: now, leases: leases, liveNodes: ["a"]))
        #expect(actions.acquire == ids("s1"))
    }

    @Test func aNodeAboveItsFairShareReleasesTheExcessButNotASessionBeingPaired() {
        var sessions = active("s1", "s2", "s3", "s4", "s5")
        sessions[SessionID(rawValue: "s5")] = .pending
        let held = Set(sessions.keys)
        let leases = Dictionary(uniqueKeysWithValues: held.map { ($0, live("a")) })
        // b joined: the share is 3 of 5; a keeps s5 (pairing) and releases the last of the others.
        let actions = SessionOwnershipPlan(node: "a").leaseActions(
            sessions: sessions, held: held, survey: OwnershipSurvey(now: now, leases: leases, liveNodes: ["a", "b"]))
        #expect(actions.release == ids("s3", "s4"))
        #expect(actions.renew == ids("s1", "s2", "s5"))
        #expect(actions.acquire.isEmpty)
        // Once released, b is the least loaded and takes both; a does not take them back.
        var after = leases
        for id in ids("s3", "s4") { after[id] = LeaseState(owner: nil, expiresAt: now) }
        let survey = OwnershipSurvey(now: now, leases: after, liveNodes: ["a", "b"])
        #expect(SessionOwnershipPlan(node: "b").leaseActions(sessions: sessions, held: [], survey: survey).acquire == ids("s3", "s4"))
        #expect(SessionOwnershipPlan(node: "a").leaseActions(sessions: sessions, held: Set(ids("s1", "s2", "s5")), survey: survey).acquire.isEmpty)
    }

    @Test func aMoveHandsTheSessionToItsLiveTargetOnly() {
        let sessions = active("s1", "s2")
        let s1 = SessionID(rawValue: "s1")
        var leases = [s1: live("a"), SessionID(rawValue: "s2"): live("a")]
        leases[s1]?.pinnedTo = "b"
        let held = Set(ids("s1", "s2"))
        let toLive = SessionOwnershipPlan(node: "a").leaseActions(
            sessions: sessions, held: held, survey: OwnershipSurvey(now: now, leases: leases, liveNodes: ["a", "b"]))
        #expect(toLive.release == ids("s1"))
        #expect(toLive.renew == ids("s2"))
        let toDead = SessionOwnershipPlan(node: "a").leaseActions(
            sessions: sessions, held: held, survey: OwnershipSurvey(now: now, leases: leases, liveNodes: ["a"]))
        #expect(toDead.release.isEmpty, "b is not live: a keeps it")
        // Released, it goes to b even though a is the less loaded node.
        leases[s1] = LeaseState(owner: nil, expiresAt: now, pinnedTo: "b")
        let survey = OwnershipSurvey(now: now, leases: leases, liveNodes: ["a", "b"])
        #expect(SessionOwnershipPlan(node: "a").leaseActions(sessions: sessions, held: Set(ids("s2")), survey: survey).acquire.isEmpty)
        #expect(SessionOwnershipPlan(node: "b").leaseActions(sessions: sessions, held: [], survey: survey).acquire == ids("s1"))
    }

    @Test func aSessionMovedToANodeStaysThereWhenTheNodesRebalance() {
        let sessions = active("s1", "s2")
        var leases = [SessionID(rawValue: "s1"): live("b"), SessionID(rawValue: "s2"): live("b")]
        leases[SessionID(rawValue: "s2")]?.pinnedTo = "b"
        // b is above its share of one: it releases s1, not s2 (the bigger id, but pinned to b).
        let actions = SessionOwnershipPlan(node: "b").leaseActions(
            sessions: sessions, held: Set(ids("s1", "s2")), survey: OwnershipSurvey(now: now, leases: leases, liveNodes: ["a", "b"]))
        #expect(actions.release == ids("s1"))
        #expect(actions.renew == ids("s2"))
    }

    @Test func aDeletedSessionsLeaseIsForgotten() {
        let actions = SessionOwnershipPlan(node: "a").leaseActions(
            sessions: active("s1"), held: Set(ids("s1", "gone")), survey: OwnershipSurvey(now: now, leases: [:], liveNodes: ["a"]))
        #expect(actions.forget == ids("gone"))
        #expect(actions.renew == ids("s1"))
    }

    @Test func enginesRunExactlyForHeldLinkedSessions() {
        let (start, stop) = SessionOwnershipPlan.engines(
            held: Set(ids("s1", "s2", "s3")), linked: Set(ids("s1", "s2", "s4")), running: Set(ids("s2", "s5")))
        #expect(start == Set(ids("s1")))
        #expect(stop == Set(ids("s5")))
    }

    @Test func leasesThatCannotBeRenewedInTimeAreGivenUp() {
        let clock = ContinuousClock.now
        let validUntil = [
            SessionID(rawValue: "fresh"): clock + .seconds(9), SessionID(rawValue: "late"): clock + .seconds(2),
            SessionID(rawValue: "past"): clock - .seconds(1),
        ]
        #expect(SessionOwnershipPlan.expiring(validUntil, now: clock, within: .seconds(3)) == ids("late", "past"))
    }
}
