import Crypto
import Foundation
import SignalProtocol

/// A WhatsApp Web companion client: links a device by QR or pairing code, logs in, keeps the
/// connection alive and comes back after losses, and reports what happens on `events`.
///
/// One actor owns everything mutable. Stanzas go out through one writer task per connection,
/// fed in the order the actor hands them over, so frames leave in Noise counter order however
/// many callers send at once. Stanzas come in through one reader task per connection and are
/// handled one at a time, in order. The connection's life cycle is decided by
/// `ConnectionStateMachine`; this actor performs its actions.
public actor WhatsAppClient {
    public nonisolated let events: AsyncStream<ClientEvent>
    private let eventSink: AsyncStream<ClientEvent>.Continuation
    let store: any ClientStateStore
    let options: WhatsAppClientOptions

    var machine: ConnectionStateMachine
    var requestIDs = RequestIDGenerator()
    private var waiters = InfoQueryWaiters()
    var credentials: DeviceCredentials?
    var device: PairedDevice?
    private var pushName: String?
    private var serverTimeOffset: Duration = .zero
    private var pendingLink: PairingCode.PendingLink?
    private var lastPreKeyUpload: ContinuousClock.Instant?

    private var connection: Connection?
    /// Bumped whenever a socket is opened or dropped, so late results of an older one are ignored.
    private var generation = 0
    private var connectTask: Task<Void, Never>?
    private var qrTimer: Task<Void, Never>?
    private var reconnectTimer: Task<Void, Never>?
    private var sessionTask: Task<Void, Never>?

    /// Message stanzas wait here to be decrypted one at a time, in order, by one task, so the
    /// reader goes on reading (the answers to IQs that handling a message may send, too).
    private let incomingMessages: AsyncStream<BinaryNode>
    private let incomingMessageSink: AsyncStream<BinaryNode>.Continuation
    private var messageProcessor: Task<Void, Never>?
    /// Retry receipts sent per message id (whatsmeow retry.go: messageRetries).
    var messageRetries: [String: Int] = [:]
    /// When old decrypt-buffer entries were last removed.
    var lastBufferCleanup: Date?
    /// Whether presence `available` went out: delivery receipts are plain from then on, `inactive`
    /// before (whatsmeow: sendActiveReceipts).
    var sendsActiveReceipts = false
    /// Group subjects learnt from group-info queries, by group.
    var groupSubjects: [JID: String] = [:]
    /// The plaintexts of the messages sent last, for retry receipts.
    var recentMessages = RecentMessages()
    /// How often each device asked for each message again (whatsmeow stops answering at 10).
    var retriesAnswered: [String: Int] = [:]
    /// When a session with a device was last rebuilt for a retry receipt without keys.
    var sessionsRecreated: [JID: ContinuousClock.Instant] = [:]
    /// One message is encrypted and sent at a time (whatsmeow send.go: messageSendLock), so two
    /// sends never step the same Signal session at once.
    var sendGate = SerialGate()
    /// One operation at a time on each peer device's Signal session (encrypting a message,
    /// decrypting one, re-encrypting for a retry receipt): each must start from the session the
    /// previous one stored, or a ratchet step is lost. Different peers never wait for each other.
    var sessionGate = KeyedGate<ProtocolAddress>()
    /// The last `media_conn` answer, kept until it expires.
    let mediaConnections = MediaConnectionCache()

    private struct Connection {
        let generation: Int
        let socket: NoiseSocket
        let outgoing: AsyncStream<Outgoing>.Continuation
        let tasks: [Task<Void, Never>]
    }

    private struct Outgoing: Sendable {
        let node: BinaryNode
        let sent: CheckedContinuation<Void, any Error>?
    }

    public init(store: any ClientStateStore, options: WhatsAppClientOptions = WhatsAppClientOptions()) {
        self.store = store
        self.options = options
        machine = ConnectionStateMachine(autoReconnect: options.autoReconnect, version: options.version)
        (events, eventSink) = AsyncStream.makeStream(of: ClientEvent.self)
        (incomingMessages, incomingMessageSink) = AsyncStream.makeStream(of: BinaryNode.self)
    }

    // MARK: Public interface

    /// Loads (or creates and stores) the device's keys and connects: with the login payload
    /// when the store holds a paired device, else with the registration payload, after which
    /// QR codes follow on `events`. Does nothing while already running.
    public func start() async throws {
        guard machine.state == .idle || machine.state == .stopped else { return }
        credentials = try await store.loadOrCreateCredentials()
        device = try await store.loadPairedDevice()
        pushName = try await store.loadPushName() ?? options.pushName
        await perform(machine.handle(.startRequested(paired: device != nil)))
    }

    /// Closes the connection and stays offline; the stored state is kept.
    public func stop() async {
        await perform(machine.handle(.stopRequested))
    }

    /// Asks the server for a code to type on the phone instead of scanning (whatsmeow
    /// pair-code.go: PairPhone). Only while the connection waits to be paired; returns `ABCD-EFGH`.
    public func requestPairingCode(phone: String) async throws -> String {
        switch machine.state {
        case .awaitingRefs, .showingQR: break
        default: throw WhatsAppClientError.notAwaitingPairing
        }
        guard let credentials else { throw WhatsAppClientError.notConnected }
        var generator = SystemRandomNumberGenerator()
        var link: PairingCode.PendingLink
        do {
            link = try PairingCode.begin(phone: phone, using: &generator)
        } catch {
            throw WhatsAppClientError.pairingCode(error)
        }
        let query = PairingCode.helloQuery(
            link,
            noisePublicKey: credentials.noiseKey.publicKey.rawRepresentation,
            clientType: QRClientType(platform: options.companion.platform)
        )
        let answer = try await sendIQ(query)
        do {
            link.pairingRef = try PairingCode.pairingRef(in: answer)
        } catch {
            throw WhatsAppClientError.pairingCode(error)
        }
        pendingLink = link
        emit(.pairingCode(link.displayCode))
        return link.displayCode
    }

    /// Unlinks this device on WhatsApp's side (`remove-companion-device`), then closes the
    /// connection and wipes the stored state (whatsmeow client.go: Logout).
    public func logout() async throws {
        guard let device else { throw WhatsAppClientError.notPaired }
        guard connection != nil else { throw WhatsAppClientError.notConnected }
        _ = try await sendIQ(
            InfoQuery(
                namespace: "md", kind: .set,
                content: [
                    BinaryNode(tag: "remove-companion-device", attributes: ["jid": .jid(device.jid), "reason": "user_initiated"])
                ]))
        await perform(machine.handle(.loggedOutByUser))
    }

    /// Sets and stores the push name and, when logged in, announces it with presence.
    public func setPushName(_ name: String) async throws {
        try await store.savePushName(name)
        pushName = name
        if machine.state == .loggedIn { try await sendPresence() }
    }

    /// Sends one stanza; returns once it is written to the socket.
    public func sendNode(_ node: BinaryNode) async throws {
        guard let connection else { throw WhatsAppClientError.notConnected }
        try await withCheckedThrowingContinuation { (sent: CheckedContinuation<Void, any Error>) in
            connection.outgoing.yield(Outgoing(node: node, sent: sent))
        }
    }

    /// Sends an IQ and waits for its answer: the `result` stanza, or `InfoQueryError`. A
    /// request cut off by a lost connection is sent once more, with the same id, when the
    /// client is logged in again within `InfoQuery.retryWait`.
    public func sendIQ(_ query: InfoQuery) async throws -> BinaryNode {
        let node = query.node(id: requestIDs.next())
        let timeout = query.timeout ?? options.requestTimeout
        let answer: BinaryNode
        do {
            answer = try await request(node, timeout: timeout)
        } catch InfoQueryError.disconnected where query.retriesAfterReconnect {
            guard await waitUntilLoggedIn(within: InfoQuery.retryWait) else { throw InfoQueryError.disconnected }
            answer = try await request(node, timeout: timeout)
        }
        return try InfoQuery.outcome(of: answer).get()
    }

    func request(_ node: BinaryNode, timeout: Duration) async throws -> BinaryNode {
        guard let connection, let id = node.attributes.string("id") else { throw InfoQueryError.notConnected }
        return try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<BinaryNode, any Error>) in
            waiters.add(id, waiter)
            connection.outgoing.yield(Outgoing(node: node, sent: nil))
            Task { [weak self] in
                try? await Task.sleep(for: timeout)
                await self?.expire(id)
            }
        }
    }

    /// Whether the client is logged in now or becomes so within `limit`; false at once when
    /// it stopped (a logout or a replacement is never retried through).
    func waitUntilLoggedIn(within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            switch machine.state {
            case .loggedIn: return true
            case .stopped, .idle: return false
            default: try? await Task.sleep(for: .milliseconds(50))
            }
        }
        return false
    }

    /// The state of the connection, for status pages.
    public var connectionState: ConnectionStateMachine.State { machine.state }

    /// The linked account, or nil before pairing.
    public var pairedDevice: PairedDevice? { device }

    // MARK: Performing the state machine's actions

    private func handle(_ event: ConnectionStateMachine.Event) async {
        await perform(machine.handle(event))
    }

    private func perform(_ actions: [ConnectionStateMachine.Action]) async {
        for action in actions {
            switch action {
            case .openSocket:
                openSocket()
            case .closeSocket:
                closeSocket()
            case .emit(let event):
                emit(event)
            case .presentQR(let ref, let index, let remaining, let validFor):
                presentQR(ref: ref, index: index, remaining: remaining, validFor: validFor)
            case .cancelQRTimer:
                qrTimer?.cancel()
                qrTimer = nil
            case .scheduleReconnect(let delay):
                reconnectTimer?.cancel()
                reconnectTimer = Task { [weak self] in
                    try? await Task.sleep(for: delay)
                    guard !Task.isCancelled else { return }
                    await self?.handle(.reconnectDue)
                }
            case .cancelReconnect:
                reconnectTimer?.cancel()
                reconnectTimer = nil
            case .beginSession:
                beginSession()
            case .wipeStore:
                await wipe()
            }
        }
    }

    func emit(_ event: ClientEvent) {
        eventSink.yield(event)
    }

    private func openSocket() {
        generation += 1
        let generation = generation
        guard let credentials else { return }
        let payload: Data
        do {
            payload = try ClientPayloads.next(credentials: credentials, pairedDevice: device, version: options.version, companion: options.companion)
                .serializedData()
        } catch {
            Task { await self.connectFailed(generation, "client payload: \(error)") }
            return
        }
        let configuration = WebSocketConfiguration(url: options.url, proxy: options.proxy, additionalTrustedCAFile: options.additionalTrustedCAFile)
        let verifier: ServerCertificateVerifier
        if let override = options.noiseRootKeyOverride {
            guard let root = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: override) else {
                Task { await self.connectFailed(generation, "the Noise root key override is not a Curve25519 key") }
                return
            }
            verifier = .insecureTestingRoot(root)
        } else {
            verifier = .whatsApp
        }
        let noiseKey = credentials.noiseKey
        connectTask = Task { [weak self] in
            do {
                let transport = try await WebSocketTransport.connect(configuration)
                do {
                    let socket = try await NoiseSocket.connect(
                        over: transport, noiseKey: noiseKey, clientPayload: payload, certificateVerifier: verifier
                    )
                    await self?.connected(generation, socket)
                } catch {
                    await transport.close()
                    throw error
                }
            } catch {
                await self?.connectFailed(generation, String(describing: error))
            }
        }
    }

    private func connected(_ generation: Int, _ socket: NoiseSocket) async {
        guard generation == self.generation, connection == nil else {
            await socket.close()
            return
        }
        let (outgoing, sink) = AsyncStream.makeStream(of: Outgoing.self)
        // Drains what was queued before the connection was dropped (a reply, then the
        // telemetry after it), then closes the socket.
        let writer = Task { [weak self] in
            for await item in outgoing {
                do {
                    try await socket.send(item.node)
                    item.sent?.resume()
                } catch {
                    item.sent?.resume(throwing: error)
                    await self?.socketEnded(generation)
                }
            }
            await socket.close()
        }
        let reader = Task { [weak self] in
            do {
                while let node = try await socket.receive() {
                    guard let self else { return }
                    await self.received(node, generation)
                }
            } catch {}
            await self?.socketEnded(generation)
        }
        connection = Connection(generation: generation, socket: socket, outgoing: sink, tasks: [reader])
        startMessageProcessor()
        await handle(.connected)
        startKeepAlive(generation)
    }

    private func connectFailed(_ generation: Int, _ description: String) async {
        guard generation == self.generation else { return }
        await handle(.connectFailed(description))
    }

    private func socketEnded(_ generation: Int) async {
        guard let connection, connection.generation == generation else { return }
        await handle(.socketClosed)
    }

    /// Starts, once for the client's life, the task that handles message stanzas in order.
    private func startMessageProcessor() {
        guard messageProcessor == nil else { return }
        let messages = incomingMessages
        messageProcessor = Task { [weak self] in
            for await node in messages {
                guard let self else { return }
                await self.handleMessage(node)
            }
        }
    }

    private func closeSocket() {
        generation += 1
        connectTask?.cancel()
        connectTask = nil
        sessionTask?.cancel()
        sessionTask = nil
        waiters.failAll(with: .disconnected)
        guard let connection else { return }
        self.connection = nil
        // The writer sends what is queued and closes the socket; a write stuck on a dead
        // connection is cut short after five seconds.
        connection.outgoing.finish()
        for task in connection.tasks { task.cancel() }
        let socket = connection.socket
        Task {
            try? await Task.sleep(for: .seconds(5))
            await socket.close()
        }
    }

    private func expire(_ id: String) {
        waiters.fail(id, with: .timedOut)
    }

    private func wipe() async {
        try? await store.removeAll()
        credentials = nil
        device = nil
        pendingLink = nil
        lastPreKeyUpload = nil
        recentMessages = RecentMessages()
        retriesAnswered = [:]
        sessionsRecreated = [:]
    }

    // MARK: Incoming stanzas

    private func received(_ node: BinaryNode, _ generation: Int) async {
        guard connection?.generation == generation else { return }
        if waiters.resolve(node) { return }
        switch node.tag {
        case "iq":
            await receivedIQ(node)
        case "success":
            await receivedSuccess(node)
        case "failure":
            await handle(.failureReceived(node))
        case "stream:error":
            await handle(.streamErrorReceived(node))
        case "xmlstreamend":
            await handle(.socketClosed)
        case "ib":
            receivedIB(node)
        case "notification":
            await receivedNotification(node)
        case "receipt":
            // A retry receipt is answered here, with the message encrypted again for the device
            // that asked, then acknowledged. Other receipts are handed on unacknowledged: the
            // owner acknowledges them once it has recorded them (`acknowledge(_:)`), so that a
            // crash before that leaves the server to deliver them again (whatsmeow receipt.go).
            if let receipt = Receipt(node), receipt.kind == .retry {
                Task { [weak self] in
                    await self?.answerRetry(receipt)
                    await self?.acknowledge(node)
                }
            }
            emit(.stanza(node))
        case "call":
            // Handed on; acknowledged as whatsmeow does (call.go).
            emit(.stanza(node))
            acknowledge(node)
        case "ack":
            // An ack nobody waits for (whatsmeow ignores these too).
            break
        case "message":
            incomingMessageSink.yield(node)
        default:
            // presence, chatstate and the rest: for the owner.
            emit(.stanza(node))
        }
    }

    private func receivedIQ(_ node: BinaryNode) async {
        switch Pairing.request(in: node) {
        case .pairDevice(let refs)?:
            if let ack = PairSuccess.acknowledgement(ofPairDevice: node) { enqueue(ack) }
            await handle(.pairDeviceReceived(refs: refs))
        case .pairSuccess?:
            await receivedPairSuccess(node)
        case nil:
            // The server's own ping: answer it.
            if node.attributes.string("type") == "get", node.attributes.string("xmlns") == "urn:xmpp:ping",
                let id = node.attributes.string("id")
            {
                enqueue(BinaryNode(tag: "iq", attributes: ["to": .jid(.server), "id": .string(id), "type": "result"]))
            }
        }
    }

    /// Verifies the pair-success, stores the pairing, and only then answers with the device
    /// signature: a crash in between leaves an unanswered pairing, never an unstored one.
    private func receivedPairSuccess(_ node: BinaryNode) async {
        guard let credentials, let id = node.attributes.string("id") else { return }
        let outcome: PairSuccess.Outcome
        do {
            outcome = try PairSuccess.complete(node, credentials: credentials)
        } catch {
            enqueue(PairSuccess.errorReply(error, id: id))
            emit(.pairingRefused(error))
            return
        }
        do {
            try await store.savePairing(try Pairing.record(for: outcome.device))
        } catch {
            enqueue(PairSuccess.errorReply(.malformed, id: id))
            emit(.pairingRefused(.malformed))
            return
        }
        device = outcome.device
        if let offset = Pairing.serverTimeOffset(node, now: Date()) { serverTimeOffset = offset }
        pendingLink = nil
        enqueue(outcome.reply)
        enqueue(UnifiedSession.node(now: Date(), serverTimeOffset: serverTimeOffset))
        let account = PairedAccount(
            jid: outcome.device.jid,
            lid: outcome.device.lid,
            platform: outcome.device.platform,
            businessName: outcome.device.businessName,
            pushName: pushName
        )
        await handle(.paired(account))
    }

    private func receivedSuccess(_ node: BinaryNode) async {
        guard var device else { return }
        if let offset = Pairing.serverTimeOffset(node, now: Date()) { serverTimeOffset = offset }
        // Own LID: kept from pairing; learnt here when pairing did not bring one.
        if device.lid == nil, let lid = node.attributes.jid("lid") {
            device.lid = lid
            self.device = device
            try? await store.savePairedDevice(device)
            try? await store.storeLIDMapping(lid: lid, phone: device.jid)
        }
        let account = LoggedInAccount(jid: device.jid, lid: device.lid, pushName: pushName, serverTimeOffset: serverTimeOffset)
        await handle(.successReceived(account))
    }

    private func receivedIB(_ node: BinaryNode) {
        for child in node.children {
            switch child.tag {
            case "downgrade_webclient":
                emit(.qrScannedWithoutMultidevice)
            case "offline":
                emit(.offlineSyncCompleted(count: child.attributes.string("count").flatMap { Int($0) } ?? 0))
            default:
                break
            }
        }
    }

    private func receivedNotification(_ node: BinaryNode) async {
        switch node.attributes.string("type") {
        case "link_code_companion_reg":
            acknowledge(node)
            await receivedPrimaryHello(node)
        case "encrypt" where node.attributes.jid("from") == .server && node.child("count") != nil:
            acknowledge(node)
            // The server runs low on our prekeys (whatsmeow notification.go: handleEncryptNotification).
            if let text = node.child("count")?.attributes.string("value"), let count = Int(text), count < PreKeys.minimumCount {
                let generation = generation
                Task { [weak self] in await self?.uploadPreKeys(count: PreKeys.batchCount, generation: generation) }
            }
        case "devices":
            acknowledge(node)
            await deviceListChanged(node)
            emit(.stanza(node))
        default:
            acknowledge(node)
            emit(.stanza(node))
        }
    }

    /// The phone's answer to our pairing code: the new ADV secret is stored before
    /// `companion_finish` goes out, so the pair-success it leads to can be verified after a crash.
    private func receivedPrimaryHello(_ node: BinaryNode) async {
        guard let link = pendingLink, var credentials else { return }
        var generator = SystemRandomNumberGenerator()
        let finish: PairingCode.Finish
        do {
            finish = try PairingCode.finish(notification: node, link: link, identityKey: credentials.identityKey, using: &generator)
        } catch {
            return
        }
        credentials.advSecret = finish.advSecret
        do {
            try await store.saveCredentials(credentials)
        } catch {
            return
        }
        self.credentials = credentials
        // Not awaited here: the answer arrives through this same reader.
        Task { [weak self] in _ = try? await self?.sendIQ(finish.query) }
    }

    /// Acknowledges a stanza handed on by `events` (`<ack class=TAG id to=FROM [participant]
    /// [recipient] [type]/>`, whatsmeow receipt.go: sendAck), once the owner has dealt with it.
    public func acknowledge(_ node: BinaryNode) {
        guard let id = node.attributes["id"], let from = node.attributes["from"] else { return }
        var attributes: BinaryNode.Attributes = ["class": .string(node.tag), "id": id, "to": from]
        if let participant = node.attributes["participant"] { attributes["participant"] = participant }
        if let recipient = node.attributes["recipient"] { attributes["recipient"] = recipient }
        if node.tag != "message", let type = node.attributes["type"] { attributes["type"] = type }
        enqueue(BinaryNode(tag: "ack", attributes: attributes))
    }

    /// Queues a stanza without waiting for the write.
    func enqueue(_ node: BinaryNode) {
        connection?.outgoing.yield(Outgoing(node: node, sent: nil))
    }

    // MARK: QR codes

    private func presentQR(ref: String, index: Int, remaining: Int, validFor: Duration) {
        guard let credentials else { return }
        let code = PairingQRCode(ref: ref, credentials: credentials, clientType: QRClientType(platform: options.companion.platform))
        let expiresAt = Date().addingTimeInterval(Double(validFor.components.seconds) + Double(validFor.components.attoseconds) / 1e18)
        emit(.qrCode(QRCodeOffer(code: code.text, index: index, remaining: remaining, validFor: validFor, expiresAt: expiresAt)))
        qrTimer?.cancel()
        qrTimer = Task { [weak self] in
            try? await Task.sleep(for: validFor)
            guard !Task.isCancelled else { return }
            await self?.handle(.qrExpired)
        }
    }

    // MARK: After login

    /// whatsmeow connectionevents.go: handleConnectSuccess: prekey count (and upload), then
    /// `passive`/`active`; then presence with the push name, so receipts are not `inactive`.
    private func beginSession() {
        let generation = generation
        sessionTask = Task { [weak self] in
            guard let self else { return }
            await self.checkPreKeys(generation: generation)
            guard !Task.isCancelled else { return }
            _ = try? await self.sendIQ(InfoQuery(namespace: "passive", kind: .set, content: [BinaryNode(tag: "active")]))
            guard !Task.isCancelled else { return }
            try? await self.sendPresence()
        }
    }

    private func sendPresence() async throws {
        guard let pushName, !pushName.isEmpty else { throw WhatsAppClientError.noPushName }
        enqueue(UnifiedSession.node(now: Date(), serverTimeOffset: serverTimeOffset))
        try await sendNode(BinaryNode(tag: "presence", attributes: ["type": "available", "name": .string(pushName)]))
        sendsActiveReceipts = true
    }

    private func checkPreKeys(generation: Int) async {
        guard let answer = try? await sendIQ(PreKeys.countQuery), let serverCount = try? PreKeys.serverCount(in: answer),
            let uploaded = try? await store.uploadedPreKeyCount(),
            let size = PreKeys.uploadSize(serverCount: serverCount, uploadedCount: uploaded)
        else { return }
        await uploadPreKeys(count: size, generation: generation, serverCount: serverCount)
        // whatsmeow asks for the count once more after an upload (connectionevents.go).
        _ = try? await sendIQ(PreKeys.countQuery)
    }

    /// Generates and stores the keys first, uploads them, and marks them uploaded once the
    /// server confirmed (whatsmeow prekeys.go: uploadPreKeys).
    private func uploadPreKeys(count: Int, generation: Int, serverCount: Int? = nil) async {
        guard generation == self.generation, let credentials else { return }
        if let lastPreKeyUpload, ContinuousClock.now - lastPreKeyUpload < PreKeys.uploadGuard {
            let current: Int?
            if let serverCount {
                current = serverCount
            } else {
                current = (try? await sendIQ(PreKeys.countQuery)).flatMap { try? PreKeys.serverCount(in: $0) }
            }
            if PreKeys.guardCancels(lastUpload: lastPreKeyUpload, now: .now, serverCount: current ?? 0) { return }
        }
        guard let keys = try? await PreKeys.prepare(count: count, store: store), let last = keys.last else { return }
        guard (try? await sendIQ(PreKeys.uploadQuery(credentials: credentials, preKeys: keys))) != nil else { return }
        try? await store.markPreKeysUploaded(through: last.id)
        lastPreKeyUpload = .now
    }

    // MARK: Keepalive

    private func startKeepAlive(_ generation: Int) {
        let timing = options.keepAlive
        let task = Task { [weak self] in
            var keepAlive = KeepAlive(timing: timing, startedAt: .now)
            var generator = SystemRandomNumberGenerator()
            while !Task.isCancelled {
                try? await Task.sleep(for: keepAlive.nextInterval(using: &generator))
                guard !Task.isCancelled, let self else { return }
                let answered = await self.ping(generation: generation, deadline: timing.responseDeadline)
                guard !Task.isCancelled, await self.isCurrent(generation) else { return }
                switch answered ? keepAlive.answered(at: .now) : keepAlive.unanswered(at: .now) {
                case .healthy:
                    break
                case .restored:
                    await self.emit(.keepAliveRestored)
                case .failed(let count):
                    await self.emit(.keepAliveTimeout(count: count))
                case .reconnect(let count):
                    await self.emit(.keepAliveTimeout(count: count))
                    await self.handle(.keepAliveFailed)
                    return
                }
            }
        }
        if let connection, connection.generation == generation {
            self.connection = Connection(
                generation: generation, socket: connection.socket, outgoing: connection.outgoing, tasks: connection.tasks + [task]
            )
        } else {
            task.cancel()
        }
    }

    private func isCurrent(_ generation: Int) -> Bool { connection?.generation == generation }

    /// Any answer counts, an error too (whatsmeow keepalive.go: sendKeepAlive).
    private func ping(generation: Int, deadline: Duration) async -> Bool {
        guard isCurrent(generation) else { return false }
        var query = KeepAlive.ping
        query.timeout = deadline
        do {
            _ = try await sendIQ(query)
            return true
        } catch InfoQueryError.server {
            return true
        } catch {
            return false
        }
    }
}
