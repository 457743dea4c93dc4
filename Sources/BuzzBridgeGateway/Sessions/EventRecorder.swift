import BuzzBridgeCore
import BuzzBridgeEngines
import BuzzBridgeStorage
import Logging

/// Persists what an engine reports, with the webhook events that announce it, in one
/// transaction each. When `record` returns the event is durable.
struct EventRecorder: EngineEventSink {
    let sessionID: SessionID
    /// The session's engine kind, as metrics label messages.
    let kind: SessionKind
    let store: any GatewayStore
    /// Where incoming files go, and the base of their `media_url`.
    let blobs: any BlobStore
    let mediaBaseURL: String
    /// Fetches files that arrive as `.remote` after their message is stored.
    var downloads: MediaDownloads?
    let metrics: MessageMetrics
    let logger: Logger
    var privacy = LogPrivacy()

    func record(_ event: EngineEvent) async throws {
        switch event {
        case .incomingMessage(let incoming):
            try await recordIncoming(incoming)
        case .messageStatus(let change):
            let messageID: MessageID
            switch change.target {
            case .message(let id):
                messageID = id
            case .external(let externalID):
                // A receipt for a message this gateway did not send (one sent from the phone, or
                // already gone) changes nothing.
                guard let message = try await store.message(externalID: externalID, direction: .outgoing, in: sessionID) else { return }
                // A receipt that changes nothing (the second device's `delivered`, a `delivered`
                // after `read`) costs no write; a pending message may still need its `sent` first.
                guard message.status == .pending || message.status.canAdvance(to: change.status) else { return }
                messageID = message.id
            }
            let announce: @Sendable (Message) -> [OutboxEvent] = { message in
                // Receipts of outgoing messages are news for the client; an incoming message read
                // through our own API is not.
                message.direction == .outgoing ? [WebhookEvents.status(of: message, at: change.at)] : []
            }
            let advanced = try await store.advanceMessage(
                messageID, in: sessionID, to: change.status, at: change.at, externalID: nil, announce: announce
            )
            // A receipt can overtake the gateway's own record of the send (the engine reported it
            // before the `sent` write committed): record `sent` first, so that clients always hear
            // sent, then delivered, then read.
            if advanced == nil, change.status == .delivered || change.status == .read,
                try await store.message(messageID, in: sessionID)?.status == .pending
            {
                for status in [MessageStatus.sent, change.status] {
                    _ = try await store.advanceMessage(
                        messageID, in: sessionID, to: status, at: change.at, externalID: nil, announce: announce)
                }
            }
        case .session(let change):
            try await recordSessionChange(change)
        }
    }

    private func recordIncoming(_ incoming: IncomingMessage) async throws {
        guard let session = try await store.session(sessionID) else { return }
        guard let ownNumber = session.phoneNumber else {
            logger.error("incoming message for a session without a phone number", metadata: ["session": "\(sessionID)"])
            throw EngineError.notConnected
        }
        // The account's own messages from its phone are outgoing: from the account to the contact.
        let direction: MessageDirection = incoming.fromOwnDevice ? .outgoing : .incoming
        let status: MessageStatus = incoming.undecryptable ? .undecryptable : incoming.fromOwnDevice ? .sent : .unread
        var message = Message(
            id: .generate(), sessionID: sessionID, externalID: incoming.externalID, direction: direction,
            from: incoming.fromOwnDevice ? ownNumber : incoming.from, fromName: incoming.fromName,
            to: incoming.fromOwnDevice ? incoming.to ?? ownNumber : ownNumber, body: incoming.body,
            status: status, timestamp: incoming.timestamp, type: incoming.type, lid: incoming.lid, chatJID: incoming.chatJID,
            senderJID: incoming.senderJID, group: incoming.group
        )
        let earlier = try await store.message(externalID: incoming.externalID, direction: direction, in: sessionID)
        if let earlier {
            // Only an undecryptable message is ever replaced, by its decrypted delivery, under its id.
            guard earlier.status == .undecryptable, !incoming.undecryptable else {
                logger.debug("dropped a duplicate incoming message", metadata: ["external_id": "\(incoming.externalID)"])
                return
            }
            message.id = earlier.id
        }
        if let media = incoming.media {
            message.media = try await store(media)
            message.mediaURL = mediaBaseURL + Message.mediaPath(of: message.id)
        }
        if let quoted = incoming.quoted {
            // The reply's `reply_to`: the stored message it quotes, received or sent.
            var earlierMessage = try await store.message(externalID: quoted.externalID, direction: .incoming, in: sessionID)
            if earlierMessage == nil { earlierMessage = try await store.message(externalID: quoted.externalID, direction: .outgoing, in: sessionID) }
            message.replyTo = earlierMessage?.id
        }
        if incoming.undecryptable {
            logger.warning(
                "stored an undecryptable message; WhatsApp was asked to send it again",
                metadata: ["session": "\(sessionID)", "external_id": "\(incoming.externalID)", "message": "\(message.id)"])
        }
        // Announced once, when there is something to show: an undecryptable message is announced
        // when its decrypted delivery replaces it; the phone's own messages are not news.
        let events = incoming.undecryptable || incoming.fromOwnDevice ? [] : [WebhookEvents.received(message)]
        if try await store.insertMessage(message, events: events) {
            if !incoming.undecryptable { metrics.received(by: kind) }
            // Only now, with the message and its download source stored: the event never waits for the file.
            if message.media?.downloadSource != nil { await downloads?.enqueue(message) }
            logger.debug(
                "message received",
                metadata: [
                    "session": "\(sessionID)", "message": "\(message.id)", "from": privacy.identity(incoming.from.e164),
                    "text": privacy.text(incoming.body),
                ])
        } else {
            logger.debug("dropped a duplicate incoming message", metadata: ["external_id": "\(incoming.externalID)"])
        }
    }

    /// Puts an incoming file in the blob store (before the message is stored, so that a stored
    /// `ready` message always has its file); a file not fetched yet is recorded as `pending`.
    private func store(_ media: IncomingMedia) async throws -> MediaAttachment {
        var attachment = MediaAttachment(
            mimeType: media.mimeType, fileName: media.fileName, width: media.width, height: media.height, status: .ready
        )
        let blob: BlobReference
        switch media.content {
        case .pending:
            attachment.status = .pending
            return attachment
        case .unavailable:
            attachment.status = .failed
            return attachment
        case .remote(let source, let size):
            attachment.status = .pending
            attachment.size = size
            attachment.downloadSource = source
            return attachment
        case .stored(let sha256, let size):
            blob = BlobReference(hash: sha256, size: size)
        case .file(let path):
            blob = try await blobs.adopt(file: path)
        case .bytes(let bytes):
            let writer = try await blobs.makeWriter()
            do {
                try await writer.write(bytes)
                blob = try await writer.commit()
            } catch {
                await writer.discard()
                throw error
            }
        }
        attachment.blobHash = blob.hash
        attachment.size = blob.size
        return attachment
    }

    private func recordSessionChange(_ change: SessionChange) async throws {
        guard var session = try await store.session(sessionID) else { return }
        let before = session
        var event: OutboxEvent?
        switch change {
        case .pairingStarted:
            session.status = .pending
            session.disconnectReason = nil
            event = WebhookEvents.session(session, change: "qr_generated", reason: nil, at: .now())
        case .pairingCodeIssued:
            session.status = .pending
            session.disconnectReason = nil
            event = WebhookEvents.session(session, change: "pairing_code_generated", reason: nil, at: .now())
        case .connected(let account):
            // A login after a reconnect or a restart is no news to the client: the status stayed
            // `active` throughout. Only a new link (or another account) is announced.
            let isNewLink = session.status != .active || session.phoneNumber != account.phoneNumber
            session.status = .active
            session.phoneNumber = account.phoneNumber
            session.lid = account.lid ?? session.lid
            session.platform = account.platform ?? session.platform
            // The admin's push name wins over the account's own.
            if session.pushName == nil { session.pushName = account.pushName }
            session.connection = .connected
            session.disconnectReason = nil
            session.disconnectedAt = nil
            session.lastActivity = account.at
            if isNewLink {
                session.connectedAt = account.at
                event = WebhookEvents.session(session, change: "connected", reason: nil, at: account.at)
            }
        case .reconnecting:
            // Transient: the account is still linked, so status and phone number stay.
            guard session.status == .active else { return }
            session.connection = .reconnecting
        case .disconnected(let reason, let time):
            session.status = .disconnected
            session.disconnectReason = reason
            session.connection = nil
            session.connectedAt = nil
            session.disconnectedAt = time
            // The account is gone, unless only this connection was refused (a client version,
            // a temporary ban): its credentials are kept and the next start logs in again.
            if !reason.keepsAccount {
                session.phoneNumber = nil
                session.lid = nil
                session.platform = nil
            }
            event = WebhookEvents.session(session, change: "disconnected", reason: reason.rawValue, at: time)
        }
        guard session != before || event != nil else { return }
        try await store.updateSession(session, events: event.map { [$0] } ?? [])
        logger.info(
            "session is now \(session.status.rawValue)",
            metadata: [
                "session": "\(sessionID)", "connection": "\(session.connection?.rawValue ?? "-")",
                "reason": "\(session.disconnectReason?.rawValue ?? "-")",
            ]
        )
        if session.disconnectReason == .outdatedClient {
            logger.error(
                "WhatsApp refused this client version (failure 405): start buzzbridge serve with --wa-version set to the current WhatsApp Web version",
                metadata: ["session": "\(sessionID)"]
            )
        }
    }
}
