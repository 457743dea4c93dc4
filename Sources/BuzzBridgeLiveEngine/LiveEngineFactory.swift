import BuzzBridgeCore
import BuzzBridgeEngines
import BuzzBridgeStorage
import Logging
import WhatsAppProtocol

/// Builds the live engine of a `.live` session: a WhatsApp client whose state lives in the
/// gateway's store. `DefaultEngineFactory` hands live sessions to it.
public struct LiveEngineFactory: EngineFactory {
    public var store: any ProtocolStateStore
    public var options: WhatsAppClientOptions
    public var logger: Logger
    /// What the engine's logs may show of WhatsApp ids (`--log-sensitive`).
    public var privacy: LogPrivacy

    public init(
        store: any ProtocolStateStore, options: WhatsAppClientOptions, logger: Logger = Logger(label: "buzzbridge.live"),
        privacy: LogPrivacy = LogPrivacy()
    ) {
        self.privacy = privacy
        self.store = store
        self.options = options
        self.logger = logger
    }

    public func makeEngine(for session: Session, events: any EngineEventSink) throws(EngineError) -> any WhatsAppEngine {
        var options = options
        options.pushName = session.pushName ?? options.pushName
        return LiveEngine(
            sessionID: session.id, state: StoredClientState(store: store, session: session.id), options: options, events: events, logger: logger,
            privacy: privacy
        )
    }
}
