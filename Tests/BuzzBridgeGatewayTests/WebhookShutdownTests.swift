import BuzzBridgeCore
import BuzzBridgeGateway
import BuzzBridgeStorage
import Foundation
import Testing

/// Graceful shutdown and webhooks: the attempt under way finishes and is recorded, nothing new starts.
@Suite("Webhook attempts on graceful shutdown")
struct WebhookShutdownTests {
    @Test func aStopLetsTheAttemptUnderWayFinishAndStartsNoOther() async throws {
        let gate = WebhookReceiver.AnswerGate()
        let receiver = try await WebhookReceiver.start { index, _ in index == 0 ? .held(gate, status: 200) : .status(200) }
        // A grace period no loaded machine outlasts: the answer comes a second into the stop.
        var webhooks = WebhookConfiguration.fastForTests
        webhooks.shutdownGracePeriod = .seconds(60)
        let gateway = try await TestGateway.start(webhooks: webhooks)
        try await gateway.addWebhook(url: receiver.url, events: ["message.received"])
        try await gateway.connect()
        try await gateway.receive("first")
        try await gateway.receive("second")  // same conversation: waits for the first

        let open = try await receiver.waitForRequests(1)
        try #require(open.count == 1)
        // The first answer is held until the stop is under way, then given a second later.
        let stopped = ContinuousClock.now
        let stopping = Task { try await gateway.stop() }
        try await Task.sleep(for: .seconds(1))
        gate.release()
        try await stopping.value
        let stopTook = ContinuousClock.now - stopped

        #expect(receiver.answeredAt(0) != nil, "the attempt under way was answered")
        #expect(receiver.requests.count == 1, "no attempt started after the stop")
        #expect(stopTook >= .milliseconds(900), "the stop waited for the answer (\(stopTook))")
        let store = try await DataFolder.openStore(at: gateway.dataDirectory)
        let deliveries = try await store.webhookDeliveries(DeliveryQuery(sessionID: SessionID(rawValue: gateway.sessionID)))
        let byText = Dictionary(
            uniqueKeysWithValues: try await deliveries.asyncMap { delivery in
                let body = try await store.webhookPayload(of: delivery.id) ?? []
                let text = ((try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]).flatMap {
                    ($0["data"] as? [String: Any])?["message"] as? String
                }
                return (text ?? "", delivery)
            })
        #expect(byText["first"]?.state == .succeeded, "its outcome was written before the process ended")
        #expect(byText["first"]?.attempts == 1)
        #expect(byText["second"]?.state == .pending, "the next one waits for the restart")
        #expect(byText["second"]?.attempts == 0)
        try await store.close()
        await receiver.stop()
        try? FileManager.default.removeItem(atPath: gateway.dataDirectory)
    }
}

extension WebhookShutdownTests {
    @Test func aStopAbandonsAnAttemptStillOpenAfterTheGracePeriod() async throws {
        let receiver = try await WebhookReceiver.start { _, _ in .silence }
        let gateway = try await TestGateway.start(
            webhooks: .init(
                timeout: .seconds(120), allowPrivateAddresses: true, shutdownGracePeriod: .seconds(1)
            ))
        try await gateway.addWebhook(url: receiver.url, events: ["message.received"])
        try await gateway.connect()
        try await gateway.receive("never answered")
        try #require(try await receiver.waitForRequests(1).count == 1)

        let stopped = ContinuousClock.now
        try await gateway.stop()
        let stopTook = ContinuousClock.now - stopped
        #expect(stopTook >= .milliseconds(900) && stopTook < .seconds(60), "waited the grace period, not the 120 s timeout (\(stopTook))")
        let store = try await DataFolder.openStore(at: gateway.dataDirectory)
        let deliveries = try await store.webhookDeliveries(DeliveryQuery(sessionID: SessionID(rawValue: gateway.sessionID)))
        #expect(deliveries.map(\.state) == [.pending], "abandoned, to be sent again after the restart")
        #expect(deliveries.map(\.attempts) == [0], "an abandoned attempt is not counted")
        try await store.close()
        await receiver.stop()
        try? FileManager.default.removeItem(atPath: gateway.dataDirectory)
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var values: [T] = []
        for element in self { values.append(try await transform(element)) }
        return values
    }
}
