import BuzzBridgeCore
import Logging

/// Builds sandbox engines for sandbox sessions and hands live sessions to `live`, the live
/// engine's factory (its own target, so that this one never pulls in the protocol stack). A
/// build or configuration without it answers live sessions with a clear `unavailable` error.
public struct DefaultEngineFactory: EngineFactory {
    public var sandbox: SandboxConfiguration
    public var live: (any EngineFactory)?
    public var logger: Logger

    public init(sandbox: SandboxConfiguration = .init(), live: (any EngineFactory)? = nil, logger: Logger = Logger(label: "buzzbridge.engine")) {
        self.sandbox = sandbox
        self.live = live
        self.logger = logger
    }

    public func makeEngine(for session: Session, events: any EngineEventSink) throws(EngineError) -> any WhatsAppEngine {
        switch session.kind {
        case .sandbox:
            return SandboxEngine(sessionID: session.id, configuration: sandbox, pushName: session.pushName, events: events, logger: logger)
        case .live:
            guard let live else { throw .unavailable("the live WhatsApp engine is not configured in this build; use a sandbox session") }
            return try live.makeEngine(for: session, events: events)
        }
    }
}
