import BuzzBridgeCore
import Logging

/// What the sandbox's test numbers do, and how long they take. Defaults follow the integration
/// spec's "Testing & Sandbox" section.
public struct SandboxConfiguration: Sendable {
    /// The number the sandbox session appears to be linked as.
    public var businessNumber: PhoneNumber
    /// Scan the QR by itself this long after it is shown; nil waits for `POST /api/sandbox/scan`.
    public var autoScanAfter: Duration?
    /// How long `+60100000002` takes to show `delivered`, and again to show `read`.
    public var slowDeliveryDelay: Duration
    /// How long any other number takes to show `delivered`.
    public var deliveryDelay: Duration
    /// How long `+60100000001` takes to answer "Test reply".
    public var replyDelay: Duration
    /// How long a QR or a pairing code stays valid (WhatsApp's first QR lives 60 s).
    public var pairingCodeLifetime: Duration

    public init(
        businessNumber: PhoneNumber = SandboxNumbers.business,
        autoScanAfter: Duration? = nil,
        slowDeliveryDelay: Duration = .seconds(3),
        deliveryDelay: Duration = .milliseconds(200),
        replyDelay: Duration = .milliseconds(500),
        pairingCodeLifetime: Duration = .seconds(60)
    ) {
        self.businessNumber = businessNumber
        self.autoScanAfter = autoScanAfter
        self.slowDeliveryDelay = slowDeliveryDelay
        self.deliveryDelay = deliveryDelay
        self.replyDelay = replyDelay
        self.pairingCodeLifetime = pairingCodeLifetime
    }
}

/// The spec's test numbers.
public enum SandboxNumbers {
    /// Always answers "Test reply".
    public static let echo = PhoneNumber("+60100000001")!
    /// Delivered (and read) only after a delay.
    public static let slow = PhoneNumber("+60100000002")!
    /// Every message to it fails.
    public static let failing = PhoneNumber("+60100000003")!
    /// Has no WhatsApp account: sending to it is refused with INVALID_PHONE_NUMBER.
    public static let unregistered = PhoneNumber("+60100000004")!
    /// The sandbox session's own number once "scanned".
    public static let business = PhoneNumber("+60100000000")!

    public static let replyText = "Test reply"
}

/// Operations only a sandbox offers: the caller stands in for the phone and its contacts.
public protocol SandboxControls: WhatsAppEngine {
    /// The phone scans the QR code shown last, or the user types the pairing code given last.
    func scan() async throws(EngineError)
    /// A contact sends a message (an image, video, audio or document when `media` is given,
    /// `body` its caption); returns its WhatsApp id.
    func receive(from: PhoneNumber, name: String?, body: String, type: MessageType, media: IncomingMedia?) async throws(EngineError) -> String
    /// The phone drops the linked device (as when the user removes it or the phone is offline too long).
    func drop() async throws(EngineError)
}

/// A WhatsApp stand-in that behaves like a phone and its contacts, with no network.
public actor SandboxEngine: SandboxControls {
    private let sink: any EngineEventSink
    private let configuration: SandboxConfiguration
    private let sessionID: SessionID
    private let logger: Logger
    private var linkedNumber: PhoneNumber?
    private var pairing: PairingQR?
    private var linkingCode: LinkingCode?
    private var pushName: String?
    private var agenda = Agenda<@Sendable (SandboxEngine) async -> Void>()
    /// Sleeps until the agenda's first entry is due; replaced when an earlier entry arrives.
    private var clock: (task: Task<Void, Never>, wakesAt: ContinuousClock.Instant)?
    private var isShutDown = false

    public init(
        sessionID: SessionID, configuration: SandboxConfiguration = .init(), pushName: String? = nil, events sink: any EngineEventSink,
        logger: Logger = Logger(label: "buzzbridge.sandbox")
    ) {
        self.sink = sink
        self.pushName = pushName
        self.sessionID = sessionID
        self.configuration = configuration
        self.logger = logger
    }

    public func qrCode() async throws(EngineError) -> PairingQR {
        guard linkedNumber == nil else { throw .alreadyActive }
        if let pairing, pairing.expiresAt > .now() { return pairing }
        linkingCode = nil
        let code = PairingQR(
            payload: "BUZZBRIDGE-SANDBOX:\(sessionID.rawValue):\(RandomToken.base62(length: 24))",
            expiresAt: Timestamp.now().adding(configuration.pairingCodeLifetime)
        )
        pairing = code
        try await emit(.session(.pairingStarted(code)))
        schedule(after: configuration.pairingCodeLifetime) { engine in await engine.expire(code) }
        if let delay = configuration.autoScanAfter {
            schedule(after: delay) { engine in
                if await engine.isShowing(code) { try? await engine.scan() }
            }
        }
        return code
    }

    /// A fake of WhatsApp's pairing by phone number: the code is derived from the session and the
    /// number (the same request gives the same code), and ``scan()`` stands in for the user
    /// typing it, linking the session as `phone`.
    public func pairingCode(phone: PhoneNumber) async throws(EngineError) -> LinkingCode {
        guard linkedNumber == nil else { throw .alreadyActive }
        if let linkingCode, linkingCode.phone == phone, linkingCode.expiresAt > .now() { return linkingCode }
        pairing = nil
        let code = LinkingCode(
            code: SandboxLinkingCode.code(session: sessionID, phone: phone), phone: phone,
            expiresAt: Timestamp.now().adding(configuration.pairingCodeLifetime)
        )
        linkingCode = code
        try await emit(.session(.pairingCodeIssued(code)))
        schedule(after: configuration.pairingCodeLifetime) { engine in await engine.expire(code) }
        if let delay = configuration.autoScanAfter {
            schedule(after: delay) { engine in
                if await engine.isShowing(code) { try? await engine.scan() }
            }
        }
        return code
    }

    private func isShowing(_ code: PairingQR) -> Bool { pairing == code && linkedNumber == nil }
    private func isShowing(_ code: LinkingCode) -> Bool { linkingCode == code && linkedNumber == nil }

    /// A QR nobody scanned ends the pairing attempt, unless a newer QR or code replaced it.
    private func expire(_ code: PairingQR) async {
        guard isShowing(code) else { return }
        pairing = nil
        try? await emit(.session(.disconnected(reason: .pairingExpired, at: .now())))
    }

    private func expire(_ code: LinkingCode) async {
        guard isShowing(code) else { return }
        linkingCode = nil
        try? await emit(.session(.disconnected(reason: .pairingExpired, at: .now())))
    }

    public func scan() async throws(EngineError) {
        guard linkedNumber == nil else { throw .alreadyActive }
        let number: PhoneNumber
        if let linkingCode, linkingCode.expiresAt > .now() {
            number = linkingCode.phone
        } else if let pairing, pairing.expiresAt > .now() {
            number = configuration.businessNumber
        } else {
            throw .failed("no QR code or pairing code is waiting: request GET /api/qr or POST /api/session/pairing-code first")
        }
        pairing = nil
        linkingCode = nil
        linkedNumber = number
        try await emit(.session(.connected(LinkedAccount(phoneNumber: number, pushName: pushName, platform: "sandbox", at: .now()))))
    }

    public func setPushName(_ name: String) {
        pushName = name
    }

    public func newExternalID() -> String {
        "SBX" + RandomToken.base62(length: 17)
    }

    public func send(_ message: OutgoingMessage) throws(EngineError) -> SendReceipt {
        guard linkedNumber != nil else { throw .notConnected }
        if message.to == SandboxNumbers.unregistered { throw .notOnWhatsApp(message.to) }
        let receipt = SendReceipt(externalID: message.externalID, timestamp: .now())
        switch message.to {
        case SandboxNumbers.failing:
            reportStatus(.failed, of: message.id, after: configuration.deliveryDelay)
        case SandboxNumbers.slow:
            reportStatus(.delivered, of: message.id, after: configuration.slowDeliveryDelay)
            reportStatus(.read, of: message.id, after: configuration.slowDeliveryDelay * 2)
        case SandboxNumbers.echo:
            reportStatus(.delivered, of: message.id, after: configuration.deliveryDelay)
            reportStatus(.read, of: message.id, after: configuration.deliveryDelay * 2)
            let media = message.media
            schedule(after: configuration.replyDelay) { engine in
                guard let media else {
                    _ = try? await engine.receive(from: SandboxNumbers.echo, name: "Sandbox Echo", body: SandboxNumbers.replyText)
                    return
                }
                await engine.echo(media)
            }
        default:
            reportStatus(.delivered, of: message.id, after: configuration.deliveryDelay)
        }
        return receipt
    }

    public func markRead(_ message: IncomingMessageReference) throws(EngineError) {
        guard linkedNumber != nil else { throw .notConnected }
    }

    public func logout() async throws(EngineError) {
        let wasPairing = pairing != nil || linkingCode != nil
        pairing = nil
        linkingCode = nil
        cancelTimers()
        guard linkedNumber != nil || wasPairing else { return }
        linkedNumber = nil
        try await emit(.session(.disconnected(reason: .loggedOut, at: .now())))
    }

    public func resume(as phoneNumber: PhoneNumber) {
        linkedNumber = phoneNumber
    }

    public func receive(
        from sender: PhoneNumber, name: String?, body: String, type: MessageType = .text, media: IncomingMedia? = nil
    ) async throws(EngineError) -> String {
        guard linkedNumber != nil else { throw .notConnected }
        let externalID = "SBX" + RandomToken.base62(length: 17)
        try await emit(
            .incomingMessage(
                IncomingMessage(
                    externalID: externalID, from: sender, fromName: name, body: body, type: type, timestamp: .now(), media: media
                )))
        return externalID
    }

    /// The echo number sends the file it was sent back, as the same type of message: its bytes
    /// are read from the gateway's store and handed back as an incoming file.
    private func echo(_ media: OutgoingMedia) async {
        do {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(media.size)
            for try await chunk in media.content.chunks() { bytes += chunk }
            let incoming = IncomingMedia(
                mimeType: media.mimeType, fileName: media.fileName, width: media.width, height: media.height, content: .bytes(bytes)
            )
            _ = try await receive(
                from: SandboxNumbers.echo, name: "Sandbox Echo", body: SandboxNumbers.replyText, type: media.type, media: incoming)
        } catch {
            logger.warning("sandbox echo of a file failed", metadata: ["session": "\(sessionID)", "error": "\(error)"])
        }
    }

    public func drop() async throws(EngineError) {
        guard linkedNumber != nil else { throw .notConnected }
        linkedNumber = nil
        cancelTimers()
        try await emit(.session(.disconnected(reason: .droppedByPhone, at: .now())))
    }

    public func shutdown() {
        isShutDown = true
        cancelTimers()
    }

    private func emit(_ event: EngineEvent) async throws(EngineError) {
        guard !isShutDown else { return }
        do {
            try await sink.record(event)
        } catch {
            logger.error("could not record sandbox event", metadata: ["session": "\(sessionID)", "error": "\(error)"])
            throw .recordingFailed
        }
    }

    private func reportStatus(_ status: MessageStatus, of id: MessageID, after delay: Duration) {
        schedule(after: delay) { engine in
            try? await engine.emit(.messageStatus(MessageStatusChange(messageID: id, status: status, at: .now())))
        }
    }

    /// Runs `action` after `delay` unless the engine logs out or shuts down first.
    private func schedule(after delay: Duration, _ action: @escaping @Sendable (SandboxEngine) async -> Void) {
        let due = ContinuousClock.now + delay
        agenda.add(action, at: due)
        if let clock, clock.wakesAt <= due { return }
        windClock()
    }

    /// Starts the one task that sleeps until the next entry is due.
    private func windClock() {
        clock?.task.cancel()
        clock = nil
        guard let next = agenda.nextDue else { return }
        let task = Task { [weak self] in
            try? await Task.sleep(until: next, clock: .continuous)
            guard !Task.isCancelled, let self else { return }
            await self.runDueActions()
        }
        clock = (task, next)
    }

    private func runDueActions() {
        for action in agenda.removeDue(at: .now) {
            // Each on its own, so that one slow report never delays the next.
            Task { [weak self] in
                guard let self else { return }
                await action(self)
            }
        }
        windClock()
    }

    private func cancelTimers() {
        agenda.removeAll()
        windClock()
    }
}
