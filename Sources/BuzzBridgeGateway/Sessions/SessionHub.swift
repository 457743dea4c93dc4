import BuzzBridgeCore
import BuzzBridgeEngines
import BuzzBridgeStorage
import Logging

/// Owns one engine per session, created on first use (sessions created by the CLI while the
/// server runs are picked up the moment one of their keys is used).
///
/// With several nodes (``SessionOwnership``), only sessions whose lease this node holds get an
/// engine: ``adopt(_:)`` and ``drop(_:)`` say which, and a request needing the engine of another
/// node's session is refused as unavailable for now, never served by a second connection.
actor SessionHub {
    private let store: any GatewayStore
    private let factory: any EngineFactory
    private let messageMetrics: MessageMetrics
    private let privacy: LogPrivacy
    private let logger: Logger
    private let blobs: any BlobStore
    private let mediaBaseURL: String
    private let downloads: MediaDownloads?
    private var engines: [SessionID: any WhatsAppEngine] = [:]
    private var restored = false
    /// Active sessions whose engine could not be started at restore.
    private var unrestored: Set<SessionID> = []
    /// The sessions this node may run engines for; `nil`: every session (one node).
    private var owned: Set<SessionID>?
    /// Takes a session's lease on demand when nobody holds it (a session made since the last
    /// round), returning whether this node now holds it.
    private var claimer: (@Sendable (Session) async -> Bool)?

    init(
        store: any GatewayStore, factory: any EngineFactory, blobs: any BlobStore, mediaBaseURL: String, downloads: MediaDownloads? = nil,
        messageMetrics: MessageMetrics, privacy: LogPrivacy, logger: Logger, leased: Bool = false
    ) {
        self.owned = leased ? [] : nil
        self.downloads = downloads
        self.blobs = blobs
        self.mediaBaseURL = mediaBaseURL
        self.privacy = privacy
        self.messageMetrics = messageMetrics
        self.store = store
        self.factory = factory
        self.logger = logger
    }

    func engine(for session: Session) async throws(APIError) -> any WhatsAppEngine {
        if let engine = engines[session.id] { return engine }
        guard await serves(session) else {
            throw APIError(.serviceUnavailable, "Service temporarily unavailable: another node serves this session; retry shortly")
        }
        // Made meanwhile, while a claim was under way.
        if let engine = engines[session.id] { return engine }
        let engine: any WhatsAppEngine
        do {
            engine = try factory.makeEngine(
                for: session,
                events: EventRecorder(
                    sessionID: session.id, kind: session.kind, store: store, blobs: blobs, mediaBaseURL: mediaBaseURL, downloads: downloads,
                    metrics: messageMetrics, logger: logger, privacy: privacy))
        } catch {
            throw APIError(error)
        }
        engines[session.id] = engine
        if Self.isLinked(session), let phone = session.phoneNumber {
            await engine.resume(as: phone)
        }
        return engine
    }

    /// Whether this node serves `session`'s engine: it holds the lease, or took it now because
    /// nobody did, and it is still this node's once the claim is over (a round may have dropped
    /// it meanwhile); false when another node serves it.
    func serves(_ session: Session) async -> Bool {
        if engines[session.id] != nil { return true }
        guard let owned, !owned.contains(session.id) else { return true }
        guard let claimer, await claimer(session) else { return false }
        return self.owned?.contains(session.id) != false
    }

    /// Whether `session` has an account to log in to again: active, or disconnected for a reason
    /// that keeps the account (see ``DisconnectReason/keepsAccount``).
    static func isLinked(_ session: Session) -> Bool {
        session.status == .active
            || (session.status == .disconnected && session.disconnectReason?.keepsAccount == true && session.phoneNumber != nil)
    }

    /// After a restart: a QR shown by the previous process can no longer be scanned, so pending
    /// sessions end their pairing; every linked session logs in again with its stored credentials.
    func restore() async throws {
        // With leases, each session is restored when this node takes it (``adopt(_:)``).
        guard owned == nil else {
            restored = true
            return
        }
        for session in try await store.sessions() {
            if session.status == .pending {
                try await endPairing(session)
            } else if Self.isLinked(session) {
                await start(session)
            }
        }
        restored = true
    }

    /// Starts the engine of a linked session, logging in with its stored credentials.
    func start(_ session: Session) async {
        do {
            _ = try await engine(for: session)
            unrestored.remove(session.id)
        } catch {
            unrestored.insert(session.id)
            logger.error("could not restore session", metadata: ["session": "\(session.id)", "error": "\(error.message)"])
        }
    }

    /// This node took the session's lease: a pairing another node had under way cannot be
    /// finished here (its QR was shown by that node), and a linked session logs in again.
    func adopt(_ session: Session) async throws {
        owned?.insert(session.id)
        if session.status == .pending {
            try await endPairing(session)
        } else if Self.isLinked(session) {
            await start(session)
            // Files the previous owner had not fetched yet.
            await downloads?.resumeAwaiting(session: session.id)
        }
    }

    /// This node no longer holds the session's lease: its engine stops, without logging out (the
    /// account stays linked for the node taking over), and no new one is made here.
    func drop(_ id: SessionID) async {
        owned?.remove(id)
        unrestored.remove(id)
        if let engine = engines.removeValue(forKey: id) { await engine.shutdown() }
    }

    /// With leases: how a request takes a session nobody holds.
    func claim(with claimer: @escaping @Sendable (Session) async -> Bool) {
        self.claimer = claimer
    }

    /// The sessions with an engine on this node.
    func runningSessions() -> Set<SessionID> {
        Set(engines.keys)
    }

    private func endPairing(_ session: Session) async throws {
        var ended = session
        ended.status = .disconnected
        ended.disconnectedAt = .now()
        ended.disconnectReason = .pairingExpired
        try await store.updateSession(
            ended, events: [WebhookEvents.session(ended, change: "disconnected", reason: DisconnectReason.pairingExpired.rawValue, at: .now())])
    }

    /// Ready once ``restore()`` has run and every session that was active when it ran has an
    /// engine, which is then connected or connecting.
    func readiness() -> SessionReadiness {
        SessionReadiness(restored: restored, unrestored: unrestored.count, engines: engines.count)
    }

    /// The engine of `session` if one runs (push name changes reach it at once).
    func runningEngine(for id: SessionID) -> (any WhatsAppEngine)? {
        engines[id]
    }

    func shutdown() async {
        for engine in engines.values { await engine.shutdown() }
        engines.removeAll()
    }
}

struct SessionReadiness: Sendable {
    var restored: Bool
    var unrestored: Int
    var engines: Int

    var isReady: Bool { restored && unrestored == 0 }
}
