import BuzzBridgeCore
import BuzzBridgePostgres
import BuzzBridgeStorage
import Foundation
import TestSupport
import Testing

/// Webhook deliveries on one PostgreSQL database shared by two nodes: a delivery one node is
/// sending is its own while it lives, and another node puts it back, under the same id, once it
/// has died.
@Suite("Webhook deliveries across nodes")
struct DeliveriesAcrossNodesTests {
    @Test func aLiveNodesAttemptIsLeftAloneAndADeadNodesIsTakenOver() async throws {
        let url = try await PostgresTestServer.shared.newDatabaseURL()
        let duration = Duration.seconds(8)
        let nodeA = try await PostgresStore.open(url: url, leases: SessionLeasePolicy(node: "node-a", duration: duration))
        let nodeB = try await PostgresStore.open(url: url, leases: SessionLeasePolicy(node: "node-b", duration: duration))
        defer {
            Task {
                try? await nodeA.close()
                try? await nodeB.close()
            }
        }
        let ownershipA = PostgresSessionOwnership(leases: try #require(nodeA.leases))
        let ownershipB = PostgresSessionOwnership(leases: try #require(nodeB.leases))
        let session = activeSession("session_across", name: "Across")
        try await nodeA.createSession(session)
        let (endpoint, _) = try await nodeA.saveWebhookEndpoint(
            session: session.id, url: "https://hooks.example/a", secret: "secret-0123456789", events: nil, at: .now())
        try await nodeA.updateSession(
            session, events: [OutboxEvent(sessionID: session.id, type: "message.received", payload: [1], createdAt: .now())])

        // Both nodes alive (their heartbeats written); A claims the delivery and is sending it.
        _ = try await ownershipA.survey()
        _ = try await ownershipB.survey()
        let claimed = try await nodeA.claimDueDeliveries(endpoint: endpoint.id, now: .now(), limit: 10)
        try #require(claimed.count == 1)
        #expect(try await nodeB.claimDueDeliveries(endpoint: endpoint.id, now: .now(), limit: 10).isEmpty, "one node sends it")

        // B starting, or looking for orphans, leaves a live node's attempt alone (A's heartbeat
        // just written, so a loaded machine cannot make it run out meanwhile).
        _ = try await ownershipA.survey()
        #expect(try await nodeB.requeueInterruptedDeliveries(at: .now()) == 0)
        #expect(try await nodeB.requeueDeliveriesOfDeadNodes() == 0)
        #expect(try await nodeB.webhookDelivery(id: claimed[0].delivery.id)?.state == .delivering)

        // A dies: once its heartbeat runs out (the database's clock), B puts the delivery back and
        // sends it under the same id.
        let deadline = ContinuousClock.now + .seconds(30)
        var requeued = 0
        while requeued == 0, ContinuousClock.now < deadline {
            _ = try await ownershipB.survey()
            requeued = try await nodeB.requeueDeliveriesOfDeadNodes()
            if requeued == 0 { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(requeued == 1)
        let reclaimed = try await nodeB.claimDueDeliveries(endpoint: endpoint.id, now: .now(), limit: 10)
        #expect(reclaimed.map(\.delivery.id) == claimed.map(\.delivery.id))
    }
}
