import Testing

@testable import BuzzBridgeEngines

@Suite("Sandbox agenda: time order, ties in arrival order")
struct AgendaTests {
    @Test func dueActionsComeOutInTimeOrderAndTheRestStay() {
        let start = ContinuousClock.now
        var agenda = Agenda<String>()
        agenda.add("slow", at: start + .seconds(3))
        agenda.add("first", at: start + .milliseconds(200))
        agenda.add("second", at: start + .milliseconds(200))
        agenda.add("early", at: start + .milliseconds(100))
        agenda.add("read", at: start + .milliseconds(400))
        #expect(agenda.nextDue == start + .milliseconds(100))
        #expect(agenda.removeDue(at: start + .milliseconds(50)).isEmpty)
        #expect(agenda.removeDue(at: start + .milliseconds(200)) == ["early", "first", "second"])
        #expect(agenda.nextDue == start + .milliseconds(400))
        #expect(agenda.removeDue(at: start + .seconds(5)) == ["read", "slow"])
        #expect(agenda.isEmpty)
        #expect(agenda.nextDue == nil)
    }
}
