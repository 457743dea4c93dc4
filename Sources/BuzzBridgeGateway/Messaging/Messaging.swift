import BuzzBridgeCore
import BuzzBridgeEngines
import BuzzBridgeStorage
import Logging

/// The life of a message on the gateway's side, in one place: what a send checks, the order in
/// which it stores, paces and hands a message to the engine, and how a read is recorded and
/// passed on. Routes only translate HTTP to these calls and back.
struct Messaging: Sendable {
    let services: GatewayServices

    /// A send as the caller asked for it, already validated as input.
    struct SendRequest: Sendable, Equatable {
        var phone: PhoneNumber
        var text: String
        var replyTo: MessageID?
        /// A file already checked and stored; `text` is its caption then.
        var media: StoredMedia? = nil
    }

    /// Sends `request` from `sessionID`'s WhatsApp number.
    ///
    /// Guarantees: nothing is handed to the engine unless the session is active and the quoted
    /// message (if any) belongs to the session; the message is stored as `pending` before it
    /// leaves, so a crash mid-send leaves a record; an engine refusal leaves it `failed` and is
    /// thrown (no webhook announces a message the caller never got an id for), unless a receipt
    /// recorded meanwhile showed it delivered or read, which is then returned as is; an accepted
    /// send is stored as `sent` with WhatsApp's id and announced by a `message.status` webhook.
    ///
    /// With several nodes, a text send for a session another node serves is stored `pending` with
    /// an entry in the send queue, in one transaction, and returned at once; the owner sends it
    /// (``QueuedSends``, ``deliverQueued(_:through:logger:)``).
    ///
    /// With `idempotency` the key is stored with the message, in the same insert.
    func send(_ request: SendRequest, from sessionID: SessionID, idempotency: IdempotencyTag? = nil, logger: Logger) async throws -> Message {
        guard let session = try await services.store.session(sessionID) else {
            throw APIError(.unauthorized, "Invalid or missing API key")
        }
        guard session.status == .active, let ownNumber = session.phoneNumber else { throw APIError.sessionInactive }
        var quoted: Message?
        if let replyTo = request.replyTo {
            quoted = try await services.store.message(replyTo, in: sessionID)
            guard quoted != nil else { throw APIError.invalid("reply_to", "must name a message of this session") }
        }
        // Another node serves the session: the message waits for it in the send queue (text only,
        // since a file stored here is in this node's data folder).
        if let queue = services.sendQueue, request.media == nil, await !services.hub.serves(session) {
            let message = Message(
                id: .generate(), sessionID: session.id, externalID: nil, direction: .outgoing, from: ownNumber, fromName: session.name,
                to: request.phone, body: request.text, status: .pending, timestamp: .now(), type: .text, replyTo: request.replyTo
            )
            try await services.metrics.store.measure(.insertMessage) { try await queue.enqueue(message, idempotency: idempotency) }
            logger.debug("message queued for the node serving the session", metadata: ["message": "\(message.id)"])
            return message
        }
        let engine = try await services.hub.engine(for: session)
        // Waits for the session's next send slot, or refuses when its queue is full.
        try await services.pacer.awaitTurn(for: session)

        // Stored before it leaves, with the WhatsApp id it will carry, so a crash mid-send leaves a
        // record rather than a mystery, and receipts find it even if the crash came after sending.
        let externalID = await engine.newExternalID()
        var message = Message(
            id: .generate(), sessionID: session.id, externalID: externalID, direction: .outgoing, from: ownNumber, fromName: session.name,
            to: request.phone, body: request.text, status: .pending, timestamp: .now(), type: request.media?.type ?? .text,
            replyTo: request.replyTo
        )
        var outgoingMedia: OutgoingMedia?
        if let media = request.media, let hash = media.attachment.blobHash {
            message.media = media.attachment
            message.mediaURL = services.media.publicBaseURL + Message.mediaPath(of: message.id)
            outgoingMedia = OutgoingMedia(
                type: media.type, mimeType: media.attachment.mimeType, fileName: media.attachment.fileName, size: media.attachment.size ?? 0,
                sha256: hash, width: media.attachment.width, height: media.attachment.height, content: services.blobs.contentSource(for: hash)
            )
        }
        try await services.metrics.store.measure(.insertMessage) { [message] in
            if let idempotency {
                try await services.store.insertMessage(message, idempotency: idempotency)
            } else {
                _ = try await services.store.insertMessage(message, events: [])
            }
        }
        let receipt: SendReceipt
        do {
            receipt = try await engine.send(
                OutgoingMessage(
                    id: message.id, externalID: externalID, to: request.phone, body: request.text, quoted: quoted.flatMap(Self.quote),
                    media: outgoingMedia)
            )
        } catch {
            let failed = try await services.store.advanceMessage(message.id, in: session.id, to: .failed, at: .now(), externalID: nil) { _ in [] }
            // The engine gave up (an ack that never came), but the recipient's receipt was
            // recorded meanwhile: the message arrived, and stays as the receipt left it.
            if failed == nil, let stored = try await services.store.message(message.id, in: session.id),
                stored.status == .delivered || stored.status == .read
            {
                logger.notice(
                    "the send was reported failed after a receipt showed it arrived; kept its status",
                    metadata: ["message": "\(message.id)", "status": "\(stored.status.rawValue)", "error": "\(error)"])
                return stored
            }
            throw APIError(error)
        }
        let announce: @Sendable (Message) -> [OutboxEvent] = { [WebhookEvents.status(of: $0, at: .now())] }
        let sent = try await services.metrics.store.measure(.advanceMessage) { [message] in
            try await services.store.advanceMessage(
                message.id, in: session.id, to: .sent, at: receipt.timestamp, externalID: receipt.externalID, announce: announce
            )
        }
        services.metrics.messages.sent(by: session.kind)
        logger.debug(
            "message sent",
            metadata: [
                "message": "\(message.id)", "to": services.privacy.identity(request.phone.e164), "text": services.privacy.text(request.text),
            ])
        message.status = sent?.status ?? .sent
        message.externalID = receipt.externalID
        return message
    }

    /// Sends a message another node queued for this node's session, claimed from `queue`.
    ///
    /// Guarantees: the message goes through the session's pacing and engine like any send; its
    /// WhatsApp id is stored before it leaves; the outcome (`sent`, or `failed` when the engine
    /// refused it or the session is not active) and the removal of its queue entry are one
    /// transaction, announced by a `message.status` webhook (the caller was answered `pending`).
    /// When the send cannot start here (the engine is gone, the lease lost, the pacing queue
    /// full), the claim is given back untouched for the owner to send later.
    /// Returns false when the claim was given back (the drain should stop for now).
    @discardableResult
    func deliverQueued(_ message: Message, through queue: any SendQueueStore, logger: Logger) async -> Bool {
        let announce = Self.statusEvent
        let sessionID = message.sessionID
        do {
            guard let session = try await services.store.session(sessionID), session.status == .active else {
                _ = try await queue.finish(message.id, in: sessionID, as: .failed, at: .now(), externalID: nil, announce: announce)
                logger.notice("queued send failed: the session is not active", metadata: ["message": "\(message.id)"])
                return true
            }
            let engine: any WhatsAppEngine
            do {
                // The slot first, then the engine: a lease lost while waiting for the slot gives
                // the claim back instead of failing the message on a stopped engine.
                try await services.pacer.awaitTurn(for: session)
                engine = try await services.hub.engine(for: session)
            } catch {
                try await queue.unclaim(message.id, in: sessionID)
                logger.notice("queued send put back", metadata: ["message": "\(message.id)", "error": "\(error)"])
                return false
            }
            let externalID = await engine.newExternalID()
            try await queue.assign(externalID: externalID, to: message.id, in: sessionID)
            var quoted: QuotedMessage?
            if let replyTo = message.replyTo { quoted = try await services.store.message(replyTo, in: sessionID).flatMap(Self.quote) }
            let receipt: SendReceipt
            do {
                receipt = try await engine.send(
                    OutgoingMessage(id: message.id, externalID: externalID, to: message.to, body: message.body, quoted: quoted, media: nil))
            } catch {
                _ = try await queue.finish(message.id, in: sessionID, as: .failed, at: .now(), externalID: nil, announce: announce)
                logger.notice("queued send failed", metadata: ["message": "\(message.id)", "error": "\(error)"])
                return true
            }
            _ = try await queue.finish(
                message.id, in: sessionID, as: .sent, at: receipt.timestamp, externalID: receipt.externalID, announce: announce)
            services.metrics.messages.sent(by: session.kind)
            logger.debug("queued message sent", metadata: ["message": "\(message.id)"])
            return true
        } catch {
            logger.warning("queued send not recorded", metadata: ["message": "\(message.id)", "error": "\(error)"])
            return false
        }
    }

    /// The `message.status` webhook that announces a queued send's outcome, written with it.
    static let statusEvent: @Sendable (Message) -> [OutboxEvent] = { [WebhookEvents.status(of: $0, at: .now())] }

    /// What a reply shows of `message`; nil for a message WhatsApp never gave an id.
    static func quote(_ message: Message) -> QuotedMessage? {
        guard let externalID = message.externalID else { return nil }
        return QuotedMessage(externalID: externalID, sender: message.from, fromMe: message.direction == .outgoing, body: message.body)
    }

    /// Marks incoming message `id` read; returns when it was read.
    ///
    /// Guarantees: only incoming messages of the session are marked; the read is stored before
    /// the blue ticks go to the sender, and a failure to send them does not undo it.
    func markRead(_ id: MessageID, in sessionID: SessionID, logger: Logger) async throws -> Timestamp {
        guard let message = try await services.store.message(id, in: sessionID) else {
            throw APIError(.notFound, "Message not found", details: ["message_id": id.rawValue])
        }
        guard message.direction == .incoming else {
            throw APIError.invalid("message_id", "names an outgoing message; only incoming messages can be marked read")
        }
        guard message.status != .read else { return message.readAt ?? .now() }
        let now = Timestamp.now()
        let updated = try await services.store.advanceMessage(id, in: sessionID, to: .read, at: now, externalID: nil) { _ in [] }
        if let session = try await services.store.session(sessionID), session.status == .active, let externalID = message.externalID {
            do {
                try await services.hub.engine(for: session).markRead(
                    IncomingMessageReference(externalID: externalID, from: message.from, chatJID: message.chatJID, senderJID: message.senderJID))
            } catch {
                logger.warning("read receipt not sent", metadata: ["message": "\(id)", "error": "\(error)"])
            }
        }
        return updated?.readAt ?? now
    }
}
