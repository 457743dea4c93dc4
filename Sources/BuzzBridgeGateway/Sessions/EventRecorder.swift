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
    let metrics: MessageMetrics
    let logger: Logger
    var privacy = LogPrivacy()

    func record(_ event: EngineEvent) async throws {
        switch event {
        case .incomingMessage(let incoming):
            try await recordIncoming(incoming)
        case .messageStatus(let change):
            let announce: @Sendable (Message) -> [OutboxEvent] = { message in
                // Receipts of outgoing messages are news for the client; an incoming message read
                // through our own API is not.
                message.direction == .outgoing ? [WebhookEvents.status(of: message, at: change.at)] : []
            }
            let advanced = try await store.advanceMessage(
                change.messageID, in: sessionID, to: change.status, at: change.at, externalID: nil, announce: announce
            )
            // A receipt can overtake the gateway's own record of the send (the engine reported it
            // before the `sent` write committed): record `sent` first, so that clients always hear
            // sent, then delivered, then read.
            if advanced == nil, change.status == .delivered || change.status == .read,
                try await store.message(change.messageID, in: sessionID)?.status == .pending
            {
                for status in [MessageStatus.sent, change.status] {
                    _ = try await store.advanceMessage(
                        change.messageID, in: sessionID, to: status, at: change.at, externalID: nil, announce: announce)
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
        let message = Message(
            id: .generate(), sessionID: sessionID, externalID: incoming.externalID, direction: .incoming,
            from: incoming.from, fromName: incoming.fromName, to: ownNumber, body: incoming.body,
            status: .unread, timestamp: incoming.timestamp, type: incoming.type
        )
        if try await store.insertMessage(message, events: [WebhookEvents.received(message)]) {
            metrics.received(by: kind)
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
