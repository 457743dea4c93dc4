import BuzzBridgeGateway
import Foundation
import Synchronization
import Testing

/// The ordering guarantee of docs/webhooks.md, over real HTTP: one conversation's events arrive
/// in order and one at a time, different conversations' events travel in parallel.
@Suite("Webhook ordering per conversation")
struct WebhookOrderingTests {
    static func text(_ request: WebhookReceiver.Request) -> String {
        (request.json["data"] as? [String: Any])?["message"] as? String ?? ""
    }

    /// Requests whose text starts with `prefix`, with their positions, in arrival order.
    static func requests(_ all: [WebhookReceiver.Request], prefix: String) -> [(index: Int, request: WebhookReceiver.Request)] {
        all.enumerated().filter { text($0.element).hasPrefix(prefix) }.map { ($0.offset, $0.element) }
    }

    @Test func eachConversationArrivesInOrderWhileConversationsGoInParallel() async throws {
        // Every answer takes a while, so parallel requests overlap at the receiver.
        let receiver = try await WebhookReceiver.start { _, _ in .delayed(.milliseconds(30), status: 200) }
        let gateway = try await TestGateway.start()
        try await gateway.addWebhook(url: receiver.url, events: ["message.received"])
        try await gateway.connect()
        let contacts = (1...6).map { "+6011100000\($0)" }
        let perContact = 8
        try await withThrowingTaskGroup(of: Void.self) { group in
            for contact in contacts {
                group.addTask {
                    for index in 0..<perContact { try await gateway.receive("\(contact) \(index)", from: contact) }
                }
            }
            try await group.waitForAll()
        }

        let all = try await receiver.waitForRequests(contacts.count * perContact, timeout: .seconds(20))
        #expect(all.count == contacts.count * perContact)
        #expect(Set(all.compactMap { $0.header("X-BuzzBridge-Delivery") }).count == all.count, "each event once")
        for contact in contacts {
            let mine = Self.requests(all, prefix: contact + " ")
            #expect(mine.map { Self.text($0.request) } == (0..<perContact).map { "\(contact) \($0)" }, "\(contact) in order")
            // One at a time: each event of the conversation arrived after the one before was answered.
            for (earlier, later) in zip(mine, mine.dropFirst()) {
                let answered = try #require(receiver.answeredAt(earlier.index))
                #expect(later.request.arrivedAt >= answered, "\(contact): \(Self.text(later.request)) sent before the one before was answered")
            }
        }
        #expect(receiver.maximumOpen >= 2, "different conversations' events are sent in parallel")
        #expect(receiver.maximumOpen <= WebhookConfiguration.defaultMaximumInFlightPerEndpoint, "bounded per endpoint")
        try await gateway.discard()
        await receiver.stop()
    }

    @Test func aSlowConversationDoesNotHoldUpAnother() async throws {
        let slow = "+60111111111", fast = "+60122222222"
        let receiver = try await WebhookReceiver.start { _, request in
            // Long enough for the fast conversation's five events to go out meanwhile even when the
            // whole suite loads the machine (4 s was not), within the 30 s timeout set below.
            Self.text(request).hasPrefix("slow") ? .delayed(.seconds(15), status: 200) : .status(200)
        }
        var webhooks = WebhookConfiguration.fastForTests
        webhooks.timeout = .seconds(30)
        let gateway = try await TestGateway.start(webhooks: webhooks)
        try await gateway.addWebhook(url: receiver.url, events: ["message.received"])
        try await gateway.connect()
        try await gateway.receive("slow 0", from: slow)
        try await gateway.receive("slow 1", from: slow)
        for index in 0..<5 { try await gateway.receive("fast \(index)", from: fast) }

        let all = try await receiver.waitForRequests(7, timeout: .seconds(45))
        try #require(all.count == 7)
        let slows = Self.requests(all, prefix: "slow")
        let fasts = Self.requests(all, prefix: "fast")
        #expect(slows.map { Self.text($0.request) } == ["slow 0", "slow 1"])
        #expect(fasts.map { Self.text($0.request) } == (0..<5).map { "fast \($0)" })
        let slowAnswered = try #require(receiver.answeredAt(slows[0].index))
        for (_, request) in fasts {
            #expect(request.arrivedAt < slowAnswered, "\(Self.text(request)) waited for the slow conversation")
        }
        #expect(slows[1].request.arrivedAt >= slowAnswered, "the slow conversation's next event waited for its answer")
        try await gateway.discard()
        await receiver.stop()
    }

    @Test func aRetryKeepsItsConversationInOrderAndHoldsUpNoOther() async throws {
        let failedOnce = Mutex<Set<String>>([])
        let receiver = try await WebhookReceiver.start { _, request in
            let text = Self.text(request)
            guard text == "a 0" else { return .status(200) }
            return failedOnce.withLock { $0.insert(text).inserted } ? .status(503) : .status(200)
        }
        // The retry waits long enough for B's events to be recorded and sent even on a loaded machine.
        let gateway = try await TestGateway.start(
            webhooks: .init(
                retryDelays: [.seconds(8), .seconds(8), .seconds(8)], timeout: .seconds(5), allowPrivateAddresses: true
            ))
        try await gateway.addWebhook(url: receiver.url, events: ["message.received"])
        try await gateway.connect()
        for index in 0..<3 { try await gateway.receive("a \(index)", from: "+60111111111") }
        for index in 0..<2 { try await gateway.receive("b \(index)", from: "+60122222222") }
        // When B's events were all recorded: a machine that stalled this test for the whole retry
        // delay makes no claim about B's deliveries.
        let bRecorded = ContinuousClock.now

        let all = try await receiver.waitForRequests(6, timeout: .seconds(30))
        try #require(all.count == 6)
        let conversationA = Self.requests(all, prefix: "a ")
        #expect(conversationA.map { Self.text($0.request) } == ["a 0", "a 0", "a 1", "a 2"], "the retry comes before the later events")
        #expect(conversationA[0].request.header("X-BuzzBridge-Delivery") == conversationA[1].request.header("X-BuzzBridge-Delivery"))
        let retryArrived = conversationA[1].request.arrivedAt
        #expect(retryArrived - conversationA[0].request.arrivedAt >= .milliseconds(7990), "retried after its delay")
        let conversationB = Self.requests(all, prefix: "b ")
        #expect(conversationB.map { Self.text($0.request) } == ["b 0", "b 1"])
        if bRecorded < retryArrived - .seconds(2) {
            for (_, request) in conversationB {
                #expect(request.arrivedAt < retryArrived, "\(Self.text(request)) waited for the other conversation's retry")
            }
        }
        #expect(try await gateway.eventually { try await gateway.deliveries(state: "succeeded").count == 5 })
        try await gateway.discard()
        await receiver.stop()
    }

    @Test func sessionEventsKeepTheirOrderWithOneRequestAtATime() async throws {
        // One request at a time per endpoint is the strict order across conversations.
        let receiver = try await WebhookReceiver.start { _, _ in .delayed(.milliseconds(20), status: 200) }
        let gateway = try await TestGateway.start(
            webhooks: .init(
                retryDelays: [.milliseconds(200)], timeout: .seconds(5), allowPrivateAddresses: true, maximumInFlightPerEndpoint: 1
            ))
        try await gateway.addWebhook(url: receiver.url)
        try await gateway.connect()  // session.status: qr_generated, connected
        for index in 0..<4 { try await gateway.receive("m \(index)", from: index.isMultiple(of: 2) ? "+60111111111" : "+60122222222") }

        let all = try await receiver.waitForRequests(6, timeout: .seconds(15))
        try #require(all.count >= 6)
        let changes = all.compactMap { ($0.json["data"] as? [String: Any])?["change"] as? String }
        #expect(Array(changes.prefix(2)) == ["qr_generated", "connected"])
        #expect(all.map(Self.text).filter { $0.hasPrefix("m ") } == (0..<4).map { "m \($0)" }, "one at a time: the order they happened")
        #expect(receiver.maximumOpen == 1)
        try await gateway.discard()
        await receiver.stop()
    }
}
