import BuzzBridgeCore
import BuzzBridgeEngines
import Foundation
import Logging
import WhatsAppProtocol

/// `WhatsAppEngine` over the WhatsApp client: turns the gateway's requests into client calls and
/// the client's events into session changes, each recorded before the next event is handled.
///
/// One client per session for the engine's life; it is started on demand (a QR or pairing code
/// asked for) or at once for a linked session after a restart (``resume(as:)``).
public actor LiveEngine: WhatsAppEngine {
    private let sessionID: SessionID
    private let state: StoredClientState
    let client: WhatsAppClient
    private let sink: any EngineEventSink
    private let logger: Logger
    private let privacy: LogPrivacy
    private var pushName: String?
    private var listener: Task<Void, Never>?

    /// The QR shown now, while pairing.
    private var currentQR: PairingQR?
    /// Callers of ``qrCode()`` or ``pairingCode(phone:)`` waiting for the first QR of a connection.
    private var qrWaiters: [Int: CheckedContinuation<PairingQR, any Error>] = [:]
    private var nextWaiter = 0
    private var linkingCode: LinkingCode?
    /// The account this device is logged in as (or was, while reconnecting).
    private var account: LinkedAccount?
    private var platform: String?
    private var isShutDown = false

    /// How long a request waits for WhatsApp's first pairing ref.
    static let firstQRTimeout: Duration = .seconds(30)
    /// A pairing code works while the pairing connection lasts: the six refs of WhatsApp Web's
    /// rotation, 60 s then five times 20 s (whatsmeow `qrchan.go`).
    static let pairingCodeLifetime: Duration = .seconds(160)

    init(
        sessionID: SessionID, state: StoredClientState, options: WhatsAppClientOptions, events sink: any EngineEventSink, logger: Logger,
        privacy: LogPrivacy
    ) {
        self.privacy = privacy
        self.sessionID = sessionID
        self.state = state
        self.client = WhatsAppClient(store: state, options: options)
        self.sink = sink
        self.pushName = options.pushName
        var logger = logger
        logger[metadataKey: "session"] = "\(sessionID)"
        self.logger = logger
    }

    // MARK: WhatsAppEngine

    public func qrCode() async throws(EngineError) -> PairingQR {
        guard account == nil else { throw .alreadyActive }
        if let currentQR, currentQR.expiresAt > .now() { return currentQR }
        return try await firstQR()
    }

    public func pairingCode(phone: PhoneNumber) async throws(EngineError) -> LinkingCode {
        guard account == nil else { throw .alreadyActive }
        if let linkingCode, linkingCode.phone == phone, linkingCode.expiresAt > .now() { return linkingCode }
        if currentQR == nil || currentQR!.expiresAt <= .now() { _ = try await firstQR() }
        let shown: String
        do {
            shown = try await client.requestPairingCode(phone: String(phone.digits))
        } catch {
            throw Self.engineError(error, doing: "ask WhatsApp for a pairing code")
        }
        let code = LinkingCode(
            code: shown.replacingOccurrences(of: "-", with: ""), phone: phone, expiresAt: Timestamp.now().adding(Self.pairingCodeLifetime))
        linkingCode = code
        try await record(.session(.pairingCodeIssued(code)))
        return code
    }

    public func newExternalID() async -> String {
        await client.newMessageID()
    }

    /// Resolves the recipient (usync: on WhatsApp at all, its LID), encrypts for every device
    /// of the recipient and the account's own other devices, and returns on the server's ack.
    /// A media message's file is encrypted and uploaded to WhatsApp's media hosts first; the
    /// message is sent only once the upload succeeded. Every failure is logged with its reason
    /// and thrown; nothing is reported sent without the ack.
    public func send(_ message: OutgoingMessage) async throws(EngineError) -> SendReceipt {
        guard let account else { throw .notConnected }
        let metadata: Logger.Metadata = ["message": "\(message.id)", "external_id": "\(message.externalID)"]
        do {
            let chat = try await client.chat(forPhone: .user(String(message.to.digits)))
            var quote: TextMessage.Quote?
            if let quoted = message.quoted {
                let sender = try await participant(quoted.sender, addressedLike: chat, ownNumber: account.phoneNumber)
                quote = TextMessage.Quote(stanzaID: quoted.externalID, participant: sender, text: quoted.body)
            }
            let content: OutgoingContent
            if let media = message.media {
                content = try await mediaContent(media, caption: message.body, quoting: quote, metadata: metadata)
            } else {
                content = try TextMessage.content(message.body, quoting: quote)
            }
            let sent = try await client.sendMessage(id: message.externalID, to: chat, content: content)
            if sent.participantHashMatched == false {
                logger.warning("the server's phash differs from the device list used; device lists will be fetched again", metadata: metadata)
            }
            return SendReceipt(
                externalID: message.externalID, timestamp: Timestamp(millisecondsSinceEpoch: Int64(sent.timestamp.timeIntervalSince1970 * 1000)))
        } catch SendFailure.notOnWhatsApp {
            logger.notice("send refused: the number is not on WhatsApp", metadata: metadata)
            throw .notOnWhatsApp(message.to)
        } catch SendFailure.notLoggedIn {
            logger.warning("send failed: not logged in to WhatsApp; nothing was sent", metadata: metadata)
            throw .notConnected
        } catch SendFailure.ackTimedOut {
            logger.error("send failed: WhatsApp did not acknowledge the message in time; it may not have arrived", metadata: metadata)
            throw .rejected("WhatsApp did not acknowledge the message in time; it may not have been delivered")
        } catch let error as MediaUploadError {
            logger.error("send failed: the file could not be uploaded; nothing was sent", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            throw .rejected(Self.describe(error))
        } catch {
            logger.error("send failed", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            throw Self.engineError(error, doing: "send the message")
        }
    }

    /// Uploads the file (encrypted, streamed from the blob store) and describes it in the media
    /// message. Opus-in-Ogg audio goes as a voice note (`ptt`). No JPEG thumbnail: making one
    /// needs an image decoder and encoder this build does not have; WhatsApp shows the image
    /// once downloaded.
    private func mediaContent(
        _ media: OutgoingMedia, caption: String, quoting quote: TextMessage.Quote?, metadata: Logger.Metadata
    ) async throws -> OutgoingContent {
        let kind = Self.mediaKind(media.type)
        let source = media.content
        var voiceNote = false
        if kind == .audio, media.mimeType.lowercased().hasPrefix("audio/ogg") {
            var pieces = source.chunks().makeAsyncIterator()
            voiceNote = MediaMessage.isOggOpus(head: try await pieces.next() ?? [])
        }
        let uploaded = try await client.uploadMedia({ source.chunks() }, length: media.size, kind: kind)
        logger.debug("uploaded a file", metadata: metadata.merging(["direct_path": "\(uploaded.directPath)", "bytes": "\(media.size)"]) { $1 })
        let description = MediaMessage.Description(
            kind: kind, mimeType: media.mimeType, caption: caption, fileName: media.fileName, width: media.width, height: media.height,
            voiceNote: voiceNote)
        return try MediaMessage.content(uploaded, description, quoting: quote)
    }

    private static func mediaKind(_ type: MessageType) -> MediaKind {
        switch type {
        case .video: .video
        case .audio: .audio
        case .document: .document
        case .image, .text: .image
        }
    }

    /// The error a failed upload sends back to the API client.
    static func describe(_ error: MediaUploadError) -> String {
        switch error {
        case .refused(let host, let status): "the media host \(host) refused the file upload (HTTP \(status)); nothing was sent"
        case .malformedAnswer(let why): "the media host's answer to the file upload was unusable (\(why)); nothing was sent"
        case .unreachable(let host, let reason): "could not upload the file to the media host \(host) (\(reason)); nothing was sent"
        case .fileChanged: "the stored file changed while it was being uploaded; nothing was sent"
        case .unreadable(let reason): "the stored file could not be read for the upload (\(reason)); nothing was sent"
        }
    }

    /// The JID a quote names its sender by: the LID when the chat is addressed by LID and the
    /// LID is known, else the phone-number JID.
    private func participant(_ sender: PhoneNumber, addressedLike chat: JID, ownNumber: PhoneNumber) async throws -> JID {
        let phone = JID.user(String(sender.digits))
        guard chat.isLID else { return phone }
        if sender == ownNumber, let own = try await state.loadPairedDevice()?.lid { return own.withoutDevice }
        return try await state.lid(forPhone: phone) ?? phone
    }

    /// Sends the read receipt to the chat the message came from, as it arrived (a LID or a
    /// phone-number JID; a group with the sender as participant).
    public func markRead(_ message: IncomingMessageReference) async throws(EngineError) {
        guard account != nil else { throw .notConnected }
        let chat = message.chatJID.flatMap { try? JID(parsing: $0) } ?? JID.user(String(message.from.digits))
        let sender = message.senderJID.flatMap { try? JID(parsing: $0) }
        do {
            try await client.markRead([message.externalID], chat: chat, sender: sender)
        } catch {
            throw Self.engineError(error, doing: "send the read receipt")
        }
    }

    /// Tells WhatsApp first (`remove-companion-device`) when connected, then wipes the keys and
    /// records the logout; returns once that is stored.
    public func logout() async throws(EngineError) {
        let wasActive = account != nil || currentQR != nil || linkingCode != nil
        if account != nil {
            do {
                try await client.logout()
            } catch {
                // Not connected at the moment (reconnecting): WhatsApp keeps the device listed
                // until the phone removes it, but nothing here can use it any more.
                logger.warning("could not tell WhatsApp about the logout; forgetting the device anyway", metadata: ["error": "\(error)"])
            }
        }
        await client.stop()
        failQRWaiters(with: .failed("the session was logged out"))
        currentQR = nil
        linkingCode = nil
        account = nil
        do {
            try await state.removeAll()
        } catch {
            logger.error("could not wipe the protocol state", metadata: ["error": "\(error)"])
            throw .recordingFailed
        }
        if wasActive { try await record(.session(.disconnected(reason: .loggedOut, at: .now()))) }
    }

    /// Logs in with the stored credentials; the session shows `reconnecting` until WhatsApp
    /// accepts the login.
    public func resume(as phoneNumber: PhoneNumber) async {
        account = LinkedAccount(phoneNumber: phoneNumber, at: .now())
        try? await record(.session(.reconnecting(at: .now())))
        await startClient()
    }

    public func setPushName(_ name: String) async throws(EngineError) {
        pushName = name
        do {
            try await client.setPushName(name)
        } catch WhatsAppClientError.notConnected {
            // Stored; announced at the next login.
        } catch {
            throw Self.engineError(error, doing: "announce the push name")
        }
    }

    public func shutdown() async {
        isShutDown = true
        failQRWaiters(with: .unavailable("the server is shutting down"))
        await client.stop()
        listener?.cancel()
        listener = nil
    }

    // MARK: Client

    /// Starts the client (once) and the task that handles its events in order.
    private func startClient() async {
        if listener == nil {
            let events = client.events
            listener = Task { [weak self] in
                for await event in events {
                    guard let self else { return }
                    await self.handle(event)
                }
            }
        }
        do {
            try await client.start()
        } catch {
            logger.error("the WhatsApp client could not start", metadata: ["error": "\(error)"])
            failQRWaiters(with: .unavailable("the WhatsApp client could not start: \(error)"))
        }
    }

    private func firstQR() async throws(EngineError) -> PairingQR {
        guard !isShutDown else { throw .unavailable("the server is shutting down") }
        do {
            let id = nextWaiter
            nextWaiter += 1
            return try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<PairingQR, any Error>) in
                qrWaiters[id] = waiter
                Task {
                    await self.startClient()
                    try? await Task.sleep(for: Self.firstQRTimeout)
                    self.failQRWaiter(id, with: .unavailable("WhatsApp sent no pairing ref within \(Self.firstQRTimeout)"))
                }
            }
        } catch let error as EngineError {
            throw error
        } catch {
            throw .unavailable("\(error)")
        }
    }

    private func failQRWaiters(with error: EngineError) {
        let waiters = qrWaiters.values
        qrWaiters.removeAll()
        for waiter in waiters { waiter.resume(throwing: error) }
    }

    private func failQRWaiter(_ id: Int, with error: EngineError) {
        qrWaiters.removeValue(forKey: id)?.resume(throwing: error)
    }

    private func handle(_ event: ClientEvent) async {
        guard !isShutDown else { return }
        switch event {
        case .qrCode(let offer):
            let qr = PairingQR(payload: offer.code, expiresAt: Timestamp(millisecondsSinceEpoch: Int64(offer.expiresAt.timeIntervalSince1970 * 1000)))
            currentQR = qr
            let waiters = qrWaiters.values
            qrWaiters.removeAll()
            for waiter in waiters { waiter.resume(returning: qr) }
            try? await record(.session(.pairingStarted(qr)))
        case .refsExhausted:
            endPairing()
            try? await record(.session(.disconnected(reason: .pairingRefsExhausted, at: .now())))
        case .paired(let paired):
            platform = paired.platform
            logger.info("paired", metadata: ["jid": privacy.identity("\(paired.jid)"), "platform": "\(paired.platform)"])
        case .pairingRefused(let failure):
            // The phone that scanned is told the pairing failed; this attempt is over.
            logger.error("refused a pair-success that failed a check; nothing was stored", metadata: ["failure": "\(failure)"])
            endPairing()
            await client.stop()
            try? await record(.session(.disconnected(reason: .pairingRefused, at: .now())))
        case .qrScannedWithoutMultidevice:
            logger.warning("the QR was scanned by a phone without multi-device")
        case .loggedIn(let loggedIn):
            await loggedInAs(loggedIn)
        case .reconnecting(let reason, let delay):
            logger.notice("connection lost; reconnecting", metadata: ["reason": "\(reason)", "delay": "\(delay)"])
            if account != nil { try? await record(.session(.reconnecting(at: .now()))) }
        case .loggedOut(let reason):
            // The client wiped the state already; a user-initiated logout is recorded by logout().
            guard reason != .userInitiated else { return }
            await accountGone(Self.disconnectReason(reason))
        case .replaced:
            // Another client took over with these credentials: this copy of them is worthless.
            try? await state.removeAll()
            await accountGone(.replaced)
        case .outdatedVersion(let version):
            logger.error("WhatsApp refused client version \(version) (failure 405); set --wa-version to the current WhatsApp Web version")
            await connectionRefused(.outdatedClient)
        case .temporarilyBanned(let code, let expiresIn):
            logger.error("WhatsApp banned the account for a while", metadata: ["code": "\(code)", "expires_in": "\(expiresIn)"])
            await connectionRefused(.temporarilyBanned)
        case .connectFailure(let reason, let message):
            logger.error("WhatsApp refused the connection", metadata: ["reason": "\(reason)", "message": "\(message ?? "-")"])
            await connectionRefused(.connectionFailed)
        case .disconnected(let reason):
            // Only an unpaired connection ends this way: the pairing is over.
            logger.notice("pairing connection ended", metadata: ["reason": "\(reason)"])
            failQRWaiters(with: .unavailable("could not reach WhatsApp: \(reason)"))
            if account == nil, currentQR != nil || linkingCode != nil {
                endPairing()
                try? await record(.session(.disconnected(reason: .connectionFailed, at: .now())))
            }
        case .keepAliveTimeout(let count):
            logger.notice("keepalive unanswered", metadata: ["count": "\(count)"])
        case .keepAliveRestored:
            logger.notice("keepalive answered again")
        case .offlineSyncCompleted(let count):
            logger.debug("offline sync completed", metadata: ["count": "\(count)"])
        case .message(let message):
            await received(message)
        case .undecryptableMessage(let message):
            await receivedUndecryptable(message)
        case .stanza(let node) where node.tag == "receipt":
            await receiptArrived(node)
        case .retryReceipt(let id, let from, let resent, let reason):
            if resent {
                logger.info("re-sent a message for a device that could not decrypt it", metadata: ["external_id": "\(id)", "device": "\(from)"])
            } else {
                logger.warning(
                    "a retry receipt was not answered", metadata: ["external_id": "\(id)", "device": "\(from)", "reason": "\(reason ?? "-")"])
            }
        case .pairingCode, .stanza, .stopped:
            break
        }
    }

    // MARK: Incoming messages

    /// Records the message, then lets the client send the delivery receipt: a message is
    /// acknowledged to WhatsApp only once it is stored. One that cannot be recorded stays
    /// unanswered, so WhatsApp delivers it again after the next reconnect.
    private func received(_ message: ReceivedMessage) async {
        guard let incoming = incomingMessage(message) else {
            logger.error(
                "incoming message without a phone number for its sender; left unanswered so WhatsApp delivers it again",
                metadata: ["id": "\(message.id)", "sender": "\(message.source.sender)"])
            return
        }
        if Self.crashBeforeStoringForTests { Self.crashForTests("received \(message.id), not yet stored") }
        do {
            try await record(.incomingMessage(incoming))
        } catch {
            return
        }
        await client.confirm(message.delivery)
    }

    private func receivedUndecryptable(_ message: UndecryptableMessage) async {
        logger.warning(
            "could not decrypt an incoming message; asked the sender to send it again",
            metadata: ["id": "\(message.id)", "sender": "\(message.source.sender)", "reason": "\(message.reason)", "retry": "\(message.retryCount)"])
        let sender = Self.phone(message.senderPhone)
        guard let from = message.source.isFromMe ? account?.phoneNumber : sender else { return }
        let incoming = IncomingMessage(
            externalID: message.id, from: from, fromName: message.source.isFromMe ? nil : message.pushName, body: "",
            timestamp: Self.timestamp(message.timestamp), lid: message.senderLID?.user, chatJID: message.source.chat.description,
            senderJID: message.source.isGroup ? message.source.sender.withoutDevice.description : nil,
            group: message.source.isGroup ? MessageGroup(id: message.source.chat.description) : nil,
            fromOwnDevice: message.source.isFromMe, to: message.source.isFromMe ? Self.phone(message.chatPhone) : nil, undecryptable: true
        )
        if message.source.isFromMe, incoming.to == nil { return }
        do {
            try await record(.incomingMessage(incoming))
        } catch {
            return
        }
        await client.confirm(message.delivery)
    }

    /// The gateway's view of a decrypted message; nil when the sender's phone number is unknown
    /// (never a LID in its place).
    private func incomingMessage(_ message: ReceivedMessage) -> IncomingMessage? {
        let source = message.source
        let fromOwnDevice = source.isFromMe
        guard let from = fromOwnDevice ? account?.phoneNumber ?? Self.phone(message.senderPhone) : Self.phone(message.senderPhone) else {
            return nil
        }
        let to = fromOwnDevice && !source.isGroup ? Self.phone(message.chatPhone) : nil
        if fromOwnDevice, !source.isGroup, to == nil { return nil }
        let content = message.content
        return IncomingMessage(
            externalID: message.id, from: from, fromName: fromOwnDevice ? nil : message.pushName, body: content.text,
            type: Self.messageType(content.media), timestamp: Self.timestamp(message.timestamp), lid: message.senderLID?.user,
            chatJID: source.chat.description, senderJID: source.isGroup ? source.sender.withoutDevice.description : nil,
            group: source.isGroup ? MessageGroup(id: source.chat.description, subject: message.groupSubject) : nil,
            quoted: content.quote.map { IncomingQuote(externalID: $0.id, text: $0.text) },
            fromOwnDevice: fromOwnDevice, to: to, media: content.media == nil ? nil : Self.incomingMedia(content.file)
        )
    }

    private static func phone(_ jid: JID?) -> PhoneNumber? {
        guard let jid, jid.server == JID.Server.user else { return nil }
        return PhoneNumber(digits: jid.user)
    }

    private static func timestamp(_ date: Date) -> Timestamp {
        date.timeIntervalSince1970 > 0 ? Timestamp(millisecondsSinceEpoch: Int64(date.timeIntervalSince1970 * 1000)) : .now()
    }

    private static func messageType(_ media: MessageContent.MediaKind?) -> MessageType {
        switch media {
        case nil: .text
        case .image?, .sticker?: .image
        case .video?: .video
        case .audio?: .audio
        case .document?: .document
        }
    }

    /// Test builds only: `BUZZBRIDGE_TEST_CRASH_BEFORE_STORING=1` ends the process right after a
    /// message is decrypted (and buffered) and before it is stored, as `kill -9` would.
    private static var crashBeforeStoringForTests: Bool {
        #if DEBUG
        ProcessInfo.processInfo.environment["BUZZBRIDGE_TEST_CRASH_BEFORE_STORING"] == "1"
        #else
        false
        #endif
    }

    private static func crashForTests(_ why: String) -> Never {
        FileHandle.standardError.write(Data("fault injection: exiting (\(why))\n".utf8))
        _exit(137)
    }

    /// A receipt for messages we sent moves them to `delivered` or `read`; each change is
    /// recorded before the receipt is acknowledged, so a crash in between leaves WhatsApp to
    /// deliver the receipt again. Receipts from the account's own devices say nothing about the
    /// recipient and are only acknowledged.
    private func receiptArrived(_ node: BinaryNode) async {
        guard let receipt = Receipt(node) else { return }
        if let status = ReceiptStatus.status(of: receipt, ownUsers: await ownUsers()) {
            let at = receipt.timestamp.map { Timestamp(millisecondsSinceEpoch: Int64($0.timeIntervalSince1970 * 1000)) } ?? .now()
            for id in receipt.messageIDs {
                do {
                    try await record(.messageStatus(MessageStatusChange(externalID: id, status: status, at: at)))
                } catch {
                    return  // not acknowledged: WhatsApp delivers it again
                }
            }
        }
        if receipt.kind != .retry { await client.acknowledge(node) }
    }

    private func ownUsers() async -> Set<JID> {
        guard let device = await client.pairedDevice else { return [] }
        return Set([device.jid.withoutDevice] + (device.lid.map { [$0.withoutDevice] } ?? []))
    }

    private func loggedInAs(_ loggedIn: LoggedInAccount) async {
        endPairing()
        guard let phone = PhoneNumber(digits: loggedIn.jid.user) else {
            logger.error("logged in as a JID that is not a phone number", metadata: ["jid": privacy.identity("\(loggedIn.jid)")])
            return
        }
        if platform == nil { platform = try? await state.loadPairedDevice()?.platform }
        let linked = LinkedAccount(phoneNumber: phone, lid: loggedIn.lid?.user, pushName: loggedIn.pushName, platform: platform, at: .now())
        account = linked
        try? await record(.session(.connected(linked)))
        // The admin's push name wins over the one the client had.
        if let pushName, pushName != loggedIn.pushName { try? await client.setPushName(pushName) }
    }

    private func endPairing() {
        currentQR = nil
        linkingCode = nil
    }

    private func accountGone(_ reason: DisconnectReason) async {
        account = nil
        endPairing()
        try? await record(.session(.disconnected(reason: reason, at: .now())))
    }

    /// The connection was refused but the account may still be linked: the state is kept.
    private func connectionRefused(_ reason: DisconnectReason) async {
        account = nil
        endPairing()
        failQRWaiters(with: .unavailable("WhatsApp refused the connection (\(reason.rawValue))"))
        try? await record(.session(.disconnected(reason: reason, at: .now())))
    }

    private func record(_ event: EngineEvent) async throws(EngineError) {
        guard !isShutDown else { return }
        do {
            try await sink.record(event)
        } catch {
            logger.error("could not record a live engine event", metadata: ["error": "\(error)"])
            throw .recordingFailed
        }
    }

    static func disconnectReason(_ reason: LogoutReason) -> DisconnectReason {
        switch reason {
        case .deviceRemoved: .deviceRemoved
        case .loggedOut, .userInitiated: .loggedOut
        case .mainDeviceGone: .mainDeviceGone
        case .banned: .banned
        }
    }

    private static func engineError(_ error: any Error, doing what: String) -> EngineError {
        switch error {
        case WhatsAppClientError.notConnected: .unavailable("not connected to WhatsApp, could not \(what)")
        case WhatsAppClientError.notAwaitingPairing: .failed("the session is not waiting to be paired")
        case let error as InfoQueryError: .rejected("could not \(what): \(error)")
        default: .rejected("could not \(what): \(error)")
        }
    }
}
