import BuzzBridgeCore
import BuzzBridgeEngines
import BuzzBridgeStorage
import Logging

/// Owns one engine per session, created on first use (sessions created by the CLI while the
/// server runs are picked up the moment one of their keys is used).
actor SessionHub {
    private let store: any GatewayStore
    private let factory: any EngineFactory
    private let logger: Logger
    private var engines: [SessionID: any WhatsAppEngine] = [:]
    private var restored = false
    /// Active sessions whose engine could not be started at restore.
    private var unrestored: Set<SessionID> = []

    init(store: any GatewayStore, factory: any EngineFactory, logger: Logger) {
        self.store = store
        self.factory = factory
        self.logger = logger
    }

    func engine(for session: Session) async throws(APIError) -> any WhatsAppEngine {
        if let engine = engines[session.id] { return engine }
        let engine: any WhatsAppEngine
        do {
            engine = try factory.makeEngine(for: session, events: EventRecorder(sessionID: session.id, store: store, logger: logger))
        } catch {
            throw APIError(error)
        }
        engines[session.id] = engine
        if session.status == .active, let phone = session.phoneNumber {
            await engine.resume(as: phone)
        }
        return engine
    }

    /// After a restart: a QR shown by the previous process can no longer be scanned, so pending
    /// sessions end their pairing; active sessions reconnect.
    func restore() async throws {
        for session in try await store.sessions() {
            switch session.status {
            case .pending:
                var ended = session
                ended.status = .disconnected
                ended.disconnectedAt = .now()
                try await store.updateSession(ended, events: [
                    WebhookEvents.session(ended, change: "disconnected", reason: DisconnectReason.pairingExpired.rawValue, at: .now()),
                ])
            case .active:
                do {
                    _ = try await engine(for: session)
                    unrestored.remove(session.id)
                } catch {
                    unrestored.insert(session.id)
                    logger.error("could not restore session", metadata: ["session": "\(session.id)", "error": "\(error.message)"])
                }
            case .disconnected:
                break
            }
        }
        restored = true
    }

    /// Ready once ``restore()`` has run and every session that was active when it ran has an
    /// engine, which is then connected or connecting.
    func readiness() -> SessionReadiness {
        SessionReadiness(restored: restored, unrestored: unrestored.count, engines: engines.count)
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
