import BuzzBridgeCore
import Logging

/// Builds sandbox engines for sandbox sessions. Live sessions need the live engine, which this
/// factory does not have yet; asking for one is a clear `unavailable` error, never a fake.
public struct DefaultEngineFactory: EngineFactory {
    public var sandbox: SandboxConfiguration
    public var logger: Logger

    public init(sandbox: SandboxConfiguration = .init(), logger: Logger = Logger(label: "buzzbridge.engine")) {
        self.sandbox = sandbox
        self.logger = logger
    }

    public func makeEngine(for session: Session, events: any EngineEventSink) throws(EngineError) -> any WhatsAppEngine {
        switch session.kind {
        case .sandbox:
            return SandboxEngine(sessionID: session.id, configuration: sandbox, events: events, logger: logger)
        case .live:
            throw .unavailable("the live WhatsApp engine is not part of this build yet; use a sandbox session")
        }
    }
}
