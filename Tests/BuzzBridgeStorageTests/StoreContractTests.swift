import BuzzBridgeCore
import BuzzBridgeStorage
import Foundation
import GRDB
import Testing

/// The store's contract as the gateway relies on it, checked on the store itself: message filters,
/// pagination and counts, conversations, forward-only status changes, and the webhook outbox.
@Suite("Store contract: messages, conversations, statuses, outbox")
struct StoreContractTests {
    static let own = PhoneNumber("+60100000000")!
    static let alice = PhoneNumber("+60111111111")!
    static let bob = PhoneNumber("+60122222222")!

    /// `count` messages alternating between Alice (incoming, unread) and Bob (outgoing, sent), one
    /// second apart from `start`, oldest first.
    static func fill(_ store: any GatewayStore, session: SessionID, count: Int, start: Int64 = 1_700_000_000_000) async throws -> [Message] {
        var messages: [Message] = []
        for index in 0..<count {
            let incoming = index.isMultiple(of: 2)
            let message = Message(
                id: .generate(), sessionID: session, externalID: "EXT\(index)", direction: incoming ? .incoming : .outgoing,
                from: incoming ? alice : own, fromName: incoming ? "Alice \(index)" : nil, to: incoming ? own : bob,
                body: "message \(index)", status: incoming ? .unread : .sent,
                timestamp: Timestamp(millisecondsSinceEpoch: start + Int64(index) * 1000)
            )
            #expect(try await store.insertMessage(message, events: []))
            messages.append(message)
        }
        return messages
    }

    @Test(arguments: StoreBackend.allCases)
    func messagesAreFilteredCountedAndPagedNewestFirst(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let session = activeSession("session_contract", name: "Contract")
            try await store.createSession(session)
            let all = try await Self.fill(store, session: session.id, count: 10)

            let firstPage = try await store.messages(MessageQuery(sessionID: session.id, limit: 4, offset: 0))
            #expect(firstPage.total == 10)
            #expect(firstPage.messages.map(\.id) == all.reversed().prefix(4).map(\.id))
            let lastPage = try await store.messages(MessageQuery(sessionID: session.id, limit: 4, offset: 8))
            #expect(lastPage.messages.map(\.id) == all.prefix(2).reversed().map(\.id))
            #expect(try await store.messages(MessageQuery(sessionID: session.id, limit: 4, offset: 40)).messages.isEmpty)

            let unread = try await store.messages(MessageQuery(sessionID: session.id, limit: 100, offset: 0, status: .unread))
            #expect(unread.total == 5 && unread.messages.allSatisfy { $0.status == .unread })
            let withBob = try await store.messages(MessageQuery(sessionID: session.id, limit: 100, offset: 0, contact: Self.bob))
            #expect(withBob.total == 5 && withBob.messages.allSatisfy { $0.to == Self.bob })

            // Both bounds are inclusive.
            let window = try await store.messages(
                MessageQuery(
                    sessionID: session.id, limit: 100, offset: 0, from: all[2].timestamp, to: all[5].timestamp
                ))
            #expect(window.messages.map(\.id) == all[2...5].reversed().map(\.id))

            // Another session's messages never show.
            let other = activeSession("session_other", name: "Other")
            try await store.createSession(other)
            _ = try await Self.fill(store, session: other.id, count: 3)
            #expect(try await store.messages(MessageQuery(sessionID: session.id, limit: 100, offset: 0)).total == 10)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func aRedeliveredMessageIsStoredOnce(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let session = activeSession("session_dedup", name: "Dedup")
            try await store.createSession(session)
            let first = try #require(try await Self.fill(store, session: session.id, count: 1).first)
            var again = first
            again.id = .generate()
            #expect(try await store.insertMessage(again, events: []) == false)
            #expect(try await store.message(externalID: "EXT0", direction: .incoming, in: session.id)?.id == first.id)
            #expect(try await store.messages(MessageQuery(sessionID: session.id, limit: 10, offset: 0)).total == 1)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func conversationsReadOldestFirstWithACursorAndTheContactsName(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let session = activeSession("session_chat", name: "Chat")
            try await store.createSession(session)
            let all = try await Self.fill(store, session: session.id, count: 10)
            let alices = all.filter { $0.contact == Self.alice }

            let latest = try await store.conversation(ConversationQuery(sessionID: session.id, contact: Self.alice, limit: 3))
            #expect(latest.messages.map(\.id) == alices.suffix(3).map(\.id))
            #expect(latest.totalMessages == 5)
            #expect(latest.hasMore)
            #expect(latest.contactName == "Alice 8", "the newest push name of the contact")

            let older = try await store.conversation(ConversationQuery(sessionID: session.id, contact: Self.alice, limit: 3, before: alices[2].id))
            #expect(older.messages.map(\.id) == alices.prefix(2).map(\.id))
            #expect(!older.hasMore)

            await #expect(throws: StoreError.unknownCursor(all[1].id)) {
                _ = try await store.conversation(ConversationQuery(sessionID: session.id, contact: Self.alice, limit: 3, before: all[1].id))
            }
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func statusesOnlyMoveForwardAndTheirEventsAreWrittenWithThem(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let session = activeSession("session_status", name: "Status")
            try await store.createSession(session)
            _ = try await store.saveWebhookEndpoint(
                session: session.id, url: "https://hooks.example/status", secret: "secret-0123456789", events: ["message.status"], at: .now()
            )
            let messages = try await Self.fill(store, session: session.id, count: 2)
            let (received, sent) = (messages[0], messages[1])
            let announce: @Sendable (Message) -> [OutboxEvent] = { message in
                [OutboxEvent(sessionID: session.id, type: "message.status", payload: Array(message.status.rawValue.utf8), createdAt: .now())]
            }

            let read = try await store.advanceMessage(sent.id, in: session.id, to: .read, at: .now(), externalID: nil, announce: announce)
            #expect(read?.status == .read)
            #expect(read?.readAt == nil, "read_at is when this account read an incoming message, not when a recipient did")
            let backwards = try await store.advanceMessage(sent.id, in: session.id, to: .delivered, at: .now(), externalID: nil, announce: announce)
            #expect(backwards == nil)
            #expect(try await store.message(sent.id, in: session.id)?.status == .read)

            let marked = try await store.advanceMessage(received.id, in: session.id, to: .read, at: .now(), externalID: nil, announce: announce)
            #expect(marked?.readAt != nil)

            // One delivery for each forward move, carrying exactly the announced bytes.
            let deliveries = try await store.webhookDeliveries(DeliveryQuery(sessionID: session.id))
            #expect(deliveries.count == 2)
            for delivery in deliveries { #expect(try await store.webhookPayload(of: delivery.id) == Array("read".utf8)) }
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func outboxDeliveriesAreClaimedInOrderCompletedRequeuedAndFiltered(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let session = activeSession("session_outbox", name: "Outbox")
            try await store.createSession(session)
            let (all, _) = try await store.saveWebhookEndpoint(
                session: session.id, url: "https://hooks.example/all", secret: "secret-0123456789", events: nil, at: .now()
            )
            let (statusOnly, _) = try await store.saveWebhookEndpoint(
                session: session.id, url: "https://hooks.example/status", secret: "secret-0123456789", events: ["session.status"], at: .now()
            )
            var change = session
            for index in 0..<3 {
                change.lastActivity = .now()
                let event = OutboxEvent(
                    sessionID: session.id, type: index == 1 ? "session.status" : "message.received", payload: [UInt8(index)], createdAt: .now())
                try await store.updateSession(change, events: [event])
            }
            #expect(
                try await store.webhookDeliveries(DeliveryQuery(sessionID: session.id)).count == 4, "3 to the first endpoint, 1 to the filtered one")
            #expect(Set(try await store.pendingWebhookWork().map(\.endpointID)) == [all.id, statusOnly.id])

            let claimed = try await store.claimDueDeliveries(endpoint: all.id, now: .now(), limit: 10)
            #expect(claimed.map(\.payload) == [[0], [1], [2]], "event order")
            #expect(try await store.claimDueDeliveries(endpoint: all.id, now: .now(), limit: 10).isEmpty, "claimed ones are not handed out twice")

            // A crash while sending: the claimed deliveries return to the queue under the same ids.
            #expect(try await store.requeueInterruptedDeliveries(at: .now()) == 3)
            let reclaimed = try await store.claimDueDeliveries(endpoint: all.id, now: .now(), limit: 10)
            #expect(reclaimed.map(\.delivery.id) == claimed.map(\.delivery.id))

            let attempt = { WebhookAttempt(number: 1, at: .now(), statusCode: 200, error: nil, latencyMilliseconds: 3) }
            try await store.completeDeliveries(reclaimed.map { DeliveryCompletion(id: $0.delivery.id, attempt: attempt(), outcome: .succeeded) })
            let first = try #require(try await store.webhookDelivery(id: reclaimed[0].delivery.id))
            #expect(first.state == .succeeded && first.attempts == 1)
            #expect(try await store.webhookAttempts(of: first.id).map(\.statusCode) == [200])

            guard case .queued(let again) = try await store.redeliver(first.id, at: .now()) else {
                Issue.record("a succeeded delivery can be queued again")
                return
            }
            #expect(again.id == first.id && again.state == .pending)

            // Removing an endpoint cancels what it still had queued.
            #expect(try await store.removeWebhookEndpoint(id: statusOnly.id, at: .now()))
            let cancelled = try await store.webhookDeliveries(DeliveryQuery(sessionID: session.id, state: .cancelled))
            #expect(cancelled.map(\.endpointID) == [statusOnly.id])
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func claimsNeverHandOutAConversationsDeliveryWhileAnEarlierOneIsInFlightOrWaiting(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let session = activeSession("session_conversations", name: "Conversations")
            try await store.createSession(session)
            let (endpoint, _) = try await store.saveWebhookEndpoint(
                session: session.id, url: "https://hooks.example/all", secret: "secret-0123456789", events: nil, at: .now()
            )
            let (alice, bob) = (Self.alice.e164, Self.bob.e164)
            // Event order: Alice 0, Bob 1, Alice 2, session 3, Bob 4.
            var change = session
            for (index, conversation) in [alice, bob, alice, "", bob].enumerated() {
                change.lastActivity = .now()
                let event = OutboxEvent(
                    sessionID: session.id, type: conversation.isEmpty ? "session.status" : "message.received", payload: [UInt8(index)],
                    createdAt: .now(), conversation: conversation
                )
                try await store.updateSession(change, events: [event])
            }

            let first = try await store.claimDueDeliveries(endpoint: endpoint.id, now: .now(), limit: 1)
            #expect(first.map(\.payload) == [[0]])
            #expect(first.map(\.delivery.conversation) == [alice])
            // Alice is in flight: her next event stays; the others are handed out, in event order.
            let others = try await store.claimDueDeliveries(endpoint: endpoint.id, now: .now(), limit: 10)
            #expect(others.map(\.payload) == [[1], [3], [4]])
            #expect(others.map(\.delivery.conversation) == [bob, "", bob])

            // Alice's first waits for a retry in an hour; the rest succeed. Her second still waits,
            // behind the retry, and the claim that writes these outcomes hands out nothing.
            let attempt = { (status: Int, number: Int) in
                WebhookAttempt(number: number, at: .now(), statusCode: status, error: nil, latencyMilliseconds: 3)
            }
            let inAnHour = Timestamp.now().adding(.seconds(3600))
            let settlement = DeliverySettlement(
                completions: [DeliveryCompletion(id: first[0].delivery.id, attempt: attempt(503, 1), outcome: .retry(at: inAnHour))]
                    + others.map { DeliveryCompletion(id: $0.delivery.id, attempt: attempt(200, 1), outcome: .succeeded) }
            )
            #expect(try await store.claimDueDeliveries(endpoint: endpoint.id, now: .now(), limit: 10, settling: settlement).isEmpty)
            #expect(try await store.webhookDeliveries(DeliveryQuery(sessionID: session.id, state: .succeeded)).count == 3)
            let backlog = try await store.deliveryBacklog(endpoint: endpoint.id, now: .now())
            #expect(backlog.pending == 2)
            #expect(backlog.nextDueAt == inAnHour)

            // When the retry falls due, Alice's two go out as one run, in order.
            let later = inAnHour.adding(.seconds(1))
            let retried = try await store.claimDueDeliveries(endpoint: endpoint.id, now: later, limit: 10)
            #expect(retried.map(\.payload) == [[0], [2]])
            #expect(retried.first?.delivery.id == first[0].delivery.id, "the retry keeps its delivery id")

            // Handed back unsent (the run stopped at a retry): pending again, no attempt counted.
            let handedBack = DeliverySettlement(
                completions: [DeliveryCompletion(id: retried[0].delivery.id, attempt: attempt(200, 2), outcome: .succeeded)],
                released: [retried[1].delivery.id]
            )
            let again = try await store.claimDueDeliveries(endpoint: endpoint.id, now: later, limit: 10, settling: handedBack)
            #expect(again.map(\.payload) == [[2]])
            #expect(again.first?.delivery.attempts == 0)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func aLongQueueHeldBackBehindADeliveryInFlightDoesNotHideOtherConversations(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let session = activeSession("session_long_queue", name: "Long queue")
            try await store.createSession(session)
            let (endpoint, _) = try await store.saveWebhookEndpoint(
                session: session.id, url: "https://hooks.example/all", secret: "secret-0123456789", events: nil, at: .now()
            )
            // More of Alice's events than the claim looks at before searching conversation by conversation.
            var change = session
            let aliceEvents = 300
            for index in 0...aliceEvents {
                change.lastActivity = .now()
                let conversation = index == aliceEvents ? Self.bob.e164 : Self.alice.e164
                try await store.updateSession(
                    change,
                    events: [
                        OutboxEvent(
                            sessionID: session.id, type: "message.received", payload: Array("\(index)".utf8), createdAt: .now(),
                            conversation: conversation)
                    ])
            }
            let aliceFirst = try await store.claimDueDeliveries(endpoint: endpoint.id, now: .now(), limit: 1)
            #expect(aliceFirst.map(\.delivery.conversation) == [Self.alice.e164])
            let next = try await store.claimDueDeliveries(endpoint: endpoint.id, now: .now(), limit: 10)
            #expect(next.map(\.delivery.conversation) == [Self.bob.e164], "Bob's event, behind Alice's long queue")
            #expect(next.map(\.payload) == [Array("\(aliceEvents)".utf8)])
        }
    }
}

@Suite("Store files: a newer schema is refused, new files are the owner's alone")
struct StoreFileTests {
    @Test func aDatabaseOfANewerBuildIsRefusedAndLeftAsItIs() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-schema-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/buzzbridge.sqlite"
        try await SQLiteStore.open(path: path).close()
        let newer = 1_000
        try await DatabaseQueue(path: path).write { try $0.execute(sql: "PRAGMA user_version = \(newer)") }

        await #expect(throws: StoreError.self) { _ = try await SQLiteStore.open(path: path) }
        #expect(try await DatabaseQueue(path: path).read { try Int.fetchOne($0, sql: "PRAGMA user_version") } == newer)
    }

    @Test func aNewDatabaseFileIsReadableByItsOwnerOnly() async throws {
        try await withTemporaryStore { store, path in
            #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
            try await store.close()
        }
    }
}
