import BuzzBridgeCore
import BuzzBridgeStorage

/// What every route needs: the store and the engines.
struct GatewayServices: Sendable {
    let store: any GatewayStore
    let hub: SessionHub
    let pacing: SendPacing

    /// The caller's session; a key whose session vanished is a key that no longer works.
    func session(for context: GatewayRequestContext) async throws -> Session {
        let caller = try context.requireCaller()
        guard let session = try await store.session(caller.sessionID) else {
            throw APIError(.unauthorized, "Invalid or missing API key")
        }
        return session
    }
}

/// Applies the send pacer to the sessions that talk to WhatsApp.
struct SendPacing: Sendable {
    let pacer: SendPacer
    let pacesSandbox: Bool

    init(configuration: SendPacingConfiguration) {
        self.pacer = SendPacer(configuration: configuration)
        self.pacesSandbox = configuration.pacesSandbox
    }

    func awaitTurn(for session: Session) async throws(APIError) {
        guard session.kind == .live || pacesSandbox else { return }
        try await pacer.awaitTurn(for: session.id)
    }
}
