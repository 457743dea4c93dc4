import Testing

@testable import WhatsAppProtocol

/// The per-session lock: holders of different keys never wait for each other; the same key is
/// handed to its waiters in arrival order and freed after the last.
@Suite struct KeyedGateTests {
    actor Holder {
        var gate = KeyedGate<String>()
        var order: [String] = []

        func enter(_ key: String, as name: String) async {
            if !gate.tryEnter(key) { await withCheckedContinuation { gate.queue(key, $0) } }
            order.append(name)
        }

        func leave(_ key: String) { gate.leave(key) }
        func isHeld(_ key: String) -> Bool { gate.isHeld(key) }
        func waiters(_ key: String) -> Int { gate.waiters(key) }
    }

    @Test func differentKeysDoNotWaitAndOneKeyIsHandedOnInOrder() async throws {
        let holder = Holder()
        await holder.enter("tom", as: "send to tom")
        await holder.enter("lena", as: "decrypt from lena")  // returns at once: another key
        #expect(await holder.order == ["send to tom", "decrypt from lena"])

        let second = Task { await holder.enter("tom", as: "decrypt from tom") }
        while await holder.waiters("tom") < 1 { await Task.yield() }
        let third = Task { await holder.enter("tom", as: "retry for tom") }
        while await holder.waiters("tom") < 2 { await Task.yield() }
        #expect(await holder.order.count == 2, "both wait while tom's session is held")

        await holder.leave("tom")
        await second.value
        #expect(await holder.order.last == "decrypt from tom")
        #expect(await holder.isHeld("tom"))
        await holder.leave("tom")
        await third.value
        #expect(await holder.order.last == "retry for tom")
        await holder.leave("tom")
        await holder.leave("lena")
        let tomHeld = await holder.isHeld("tom")
        let lenaHeld = await holder.isHeld("lena")
        #expect(!tomHeld && !lenaHeld)
    }
}
