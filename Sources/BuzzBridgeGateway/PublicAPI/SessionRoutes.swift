import BuzzBridgeCore
import BuzzBridgeEngines
import BuzzBridgeStorage
import Hummingbird
import QRCode

/// `GET /api/qr`, `POST /api/session/pairing-code`, `GET /api/session/status`, `POST /api/session/disconnect`.
struct SessionRoutes {
    let services: GatewayServices

    func register(on api: RouterGroup<GatewayRequestContext>) {
        api.get("qr", use: qr)
        api.post("session/pairing-code", use: pairingCode)
        api.get("session/status", use: status)
        api.post("session/disconnect", use: disconnect)
    }

    struct QRResponse: Encodable, Sendable {
        let qrCode: String
        let sessionID: String
        let expiresAt: String
        let status: String
        enum CodingKeys: String, CodingKey {
            case qrCode = "qr_code", sessionID = "session_id", expiresAt = "expires_at", status
        }
    }

    @Sendable func qr(request: Request, context: GatewayRequestContext) async throws -> Success<QRResponse> {
        let session = try await services.session(for: context)
        guard session.status != .active else { throw APIError(EngineError.alreadyActive) }
        let engine = try await services.hub.engine(for: session)
        let code: PairingQR
        do {
            code = try await engine.qrCode()
        } catch {
            throw APIError(error)
        }
        let image = try QRCode(text: code.payload, errorCorrection: .medium).pngDataURI(moduleSize: 8, quietZone: 4)
        return Success(
            QRResponse(qrCode: image, sessionID: session.id.rawValue, expiresAt: code.expiresAt.iso8601, status: SessionStatus.pending.rawValue),
            message: "QR code generated successfully"
        )
    }

    struct PairingCodeResponse: Encodable, Sendable {
        let pairingCode: String
        let phoneNumber: String
        let sessionID: String
        let expiresAt: String
        let status: String
        enum CodingKeys: String, CodingKey {
            case pairingCode = "pairing_code", phoneNumber = "phone_number", sessionID = "session_id", expiresAt = "expires_at", status
        }
    }

    /// Pairing by phone number: the code the user types in WhatsApp → Linked devices → Link with
    /// phone number instead of scanning the QR.
    @Sendable func pairingCode(request: Request, context: GatewayRequestContext) async throws -> Success<PairingCodeResponse> {
        let body = try await JSONObjectInput.read(request, context: context, fields: ["phone"])
        let phone = try PhoneInput.parse(try body.requiredString("phone"), field: "phone")
        let session = try await services.session(for: context)
        guard session.status != .active else { throw APIError(EngineError.alreadyActive) }
        let engine = try await services.hub.engine(for: session)
        let code: LinkingCode
        do {
            code = try await engine.pairingCode(phone: phone)
        } catch {
            throw APIError(error)
        }
        return Success(
            PairingCodeResponse(
                pairingCode: code.code, phoneNumber: code.phone.e164, sessionID: session.id.rawValue, expiresAt: code.expiresAt.iso8601,
                status: SessionStatus.pending.rawValue
            ),
            message: "Pairing code generated: enter it on the phone under Linked devices → Link with phone number"
        )
    }

    @Sendable func status(request: Request, context: GatewayRequestContext) async throws -> Success<SessionStatusRepresentation> {
        Success(SessionStatusRepresentation(session: try await services.session(for: context)))
    }

    struct DisconnectResponse: Encodable, Sendable {
        let sessionID: String
        let status: String
        let disconnectedAt: String
        enum CodingKeys: String, CodingKey {
            case sessionID = "session_id", status, disconnectedAt = "disconnected_at"
        }
    }

    @Sendable func disconnect(request: Request, context: GatewayRequestContext) async throws -> Success<DisconnectResponse> {
        let session = try await services.session(for: context)
        if session.status != .disconnected {
            let engine = try await services.hub.engine(for: session)
            do {
                try await engine.logout()
            } catch {
                throw APIError(error)
            }
        }
        let after = try await services.session(for: context)
        return Success(
            DisconnectResponse(
                sessionID: after.id.rawValue, status: after.status.rawValue,
                disconnectedAt: (after.disconnectedAt ?? .now()).iso8601
            ),
            message: "Session disconnected successfully"
        )
    }
}
