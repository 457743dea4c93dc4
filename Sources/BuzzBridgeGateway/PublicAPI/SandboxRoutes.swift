import BuzzBridgeCore
import BuzzBridgeEngines
import Hummingbird

/// The phone's side of the sandbox: scan the QR, receive a message, drop the session.
/// Only sandbox (`bzb_test_`) keys may use them.
struct SandboxRoutes {
    let services: GatewayServices

    func register(on api: RouterGroup<GatewayRequestContext>) {
        api.post("sandbox/scan", use: scan)
        api.post("sandbox/incoming", use: incoming)
        api.post("sandbox/drop", use: drop)
    }

    private func sandbox(for context: GatewayRequestContext) async throws -> (any SandboxControls, Session) {
        let caller = try context.requireCaller()
        guard caller.sessionKind == .sandbox else {
            throw APIError(.forbidden, "Sandbox endpoints are only available to bzb_test_ keys")
        }
        let session = try await services.session(for: context)
        guard let engine = try await services.hub.engine(for: session) as? any SandboxControls else {
            throw APIError(.forbidden, "This session is not served by the sandbox engine")
        }
        return (engine, session)
    }

    @Sendable func scan(request: Request, context: GatewayRequestContext) async throws -> Success<SessionStatusRepresentation> {
        let (engine, _) = try await sandbox(for: context)
        do {
            try await engine.scan()
        } catch {
            throw APIError(error)
        }
        return Success(SessionStatusRepresentation(session: try await services.session(for: context)), message: "QR code scanned")
    }

    struct Injected: Encodable, Sendable {
        let message: MessageRepresentation
    }

    @Sendable func incoming(request: Request, context: GatewayRequestContext) async throws -> Success<MessageRepresentation> {
        let (engine, session) = try await sandbox(for: context)
        // The same body as a send: text, or a file (`media` object or multipart form) with a caption.
        let input = try await SendMessageInput.read(request, context: context, services: services, textFields: ["phone", "message", "name"])
        let media = input.media.map { stored in
            IncomingMedia(
                mimeType: stored.attachment.mimeType, fileName: stored.attachment.fileName, width: stored.attachment.width,
                height: stored.attachment.height,
                content: .stored(sha256: stored.attachment.blobHash ?? "", size: stored.attachment.size ?? 0)
            )
        }
        let externalID: String
        do {
            externalID = try await engine.receive(
                from: input.phone, name: input.name, body: input.text, type: input.media?.type ?? .text, media: media)
        } catch {
            throw APIError(error)
        }
        guard let stored = try await services.store.message(externalID: externalID, direction: .incoming, in: session.id) else {
            throw APIError(.internalError, "Internal server error")
        }
        return Success(MessageRepresentation(message: stored), message: "Incoming message simulated")
    }

    @Sendable func drop(request: Request, context: GatewayRequestContext) async throws -> Success<SessionStatusRepresentation> {
        let (engine, _) = try await sandbox(for: context)
        do {
            try await engine.drop()
        } catch {
            throw APIError(error)
        }
        return Success(SessionStatusRepresentation(session: try await services.session(for: context)), message: "Session dropped by the phone")
    }
}
