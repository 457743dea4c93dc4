import BuzzBridgeCore
import BuzzBridgeStorage

/// What each panel template reads: plain values, already formatted, with a `Bool` for every
/// condition a template tests (Mustache has no logic of its own). One type per template.
enum PanelViews {
    /// A time as the panel shows it: ISO 8601 in a `<time>` element, or a dash.
    struct Time {
        let iso: String
        let isSet: Bool

        init(_ time: Timestamp?) {
            self.iso = time?.iso8601 ?? ""
            self.isSet = time != nil
        }
    }

    /// An `<option>` of a filter.
    struct Option {
        let value: String
        let name: String
        let isSelected: Bool
    }

    struct Login {
        let loginToken: String
    }

    struct ErrorPage {
        struct Detail {
            let field: String
            let problem: String
        }

        let message: String
        let details: [Detail]
        let hasDetails: Bool

        init(message: String, details: [Detail]) {
            self.message = message
            self.details = details
            self.hasDetails = !details.isEmpty
        }
    }

    struct Sessions {
        let sessions: [SessionRow]
    }

    struct SessionRow {
        let id: String
        let name: String
        let kind: String
        let status: String
        let phoneNumber: String
        let connectedAt: Time
        let lastActivity: Time

        init(_ session: Session) {
            self.id = session.id.rawValue
            self.name = session.name
            self.kind = session.kind.rawValue
            self.status = session.status.rawValue
            self.phoneNumber = session.phoneNumber?.e164 ?? "—"
            self.connectedAt = Time(session.connectedAt)
            self.lastActivity = Time(session.lastActivity)
        }
    }

    struct SessionDetail {
        let id: String
        let kind: String
        let status: String
        let phoneNumber: String
        let connectedAt: Time
        let lastActivity: Time
        let canDisconnect: Bool
        /// The pairing box: one element while the session is not active, none once it is.
        let pairing: [Pairing]
        /// A code for linking by phone number, once asked for.
        let linkingCodes: [LinkingCode]
        /// What live sessions add: the state of the connection, why it ended, the account's names.
        let details: [Detail]

        struct Detail {
            let name: String
            let value: String
        }

        init(session: Session, pairing: [Pairing], linkingCodes: [LinkingCode] = []) {
            self.id = session.id.rawValue
            self.kind = session.kind.rawValue
            self.status = session.status.rawValue
            self.phoneNumber = session.phoneNumber?.e164 ?? "—"
            self.connectedAt = Time(session.connectedAt)
            self.lastActivity = Time(session.lastActivity)
            self.canDisconnect = session.status != .disconnected
            self.pairing = pairing
            self.linkingCodes = linkingCodes
            self.details = [
                ("Connection", session.connection?.rawValue), ("Disconnect reason", session.disconnectReason?.rawValue),
                ("Push name", session.pushName), ("LID", session.lid), ("Platform", session.platform),
            ].compactMap { name, value in value.map { Detail(name: name, value: $0) } }
        }
    }

    /// The pairing box of a session that is not active.
    struct Pairing {
        let qrCode: String
        let hasQRCode: Bool
        let expiresAt: String
        let problems: [String]

        init(_ state: AdminPanelRoutes.PairingState) {
            self.qrCode = state.qrCode ?? ""
            self.hasQRCode = state.qrCode != nil
            self.expiresAt = state.expiresAt ?? "—"
            self.problems = state.problem.map { [$0] } ?? []
        }
    }

    struct LinkingCode {
        let code: String
        let phone: String
        let expiresAt: String
    }

    struct Keys {
        let sessions: [KeySection]
        let scopes: [String]
    }

    struct KeySection {
        let id: String
        let name: String
        let kind: String
        let keys: [KeyRow]

        init(session: Session, keys: [KeyRow]) {
            self.id = session.id.rawValue
            self.name = session.name
            self.kind = session.kind.rawValue
            self.keys = keys
        }
    }

    struct KeyRow {
        let id: String
        let displayPrefix: String
        let label: String
        let scopes: String
        let requestsPerMinute: String
        let createdAt: Time
        let lastUsedAt: Time
        let expiresAt: Time
        let state: String
        let isUsable: Bool

        init(key: APIKeyRecord, kind: SessionKind) {
            self.id = key.id
            self.displayPrefix = APIKeyFormat.displayPrefix(of: key, kind: kind)
            self.label = key.label ?? ""
            self.scopes = key.scopes.sorted().map(\.rawValue).joined(separator: ", ")
            self.requestsPerMinute = key.requestsPerMinute.map(String.init) ?? "default"
            self.createdAt = Time(key.createdAt)
            self.lastUsedAt = Time(key.lastUsedAt)
            self.expiresAt = Time(key.expiresAt)
            self.state = key.revokedAt != nil ? "revoked" : (key.isExpired(at: .now()) ? "expired" : "active")
            self.isUsable = key.revokedAt == nil
        }
    }

    struct NewKey {
        let plaintext: String
        let sessionID: String
        let sessionName: String
        let scopes: String
    }

    struct Webhooks {
        let sessions: [WebhookSection]
        let eventTypes: [String]
    }

    struct WebhookSection {
        let id: String
        let name: String
        let endpoints: [EndpointRow]
        let deliveries: [DeliveryRow]
    }

    struct EndpointRow {
        let id: String
        let url: String
        let events: String
        let secretHint: String
        let createdAt: Time

        init(_ endpoint: WebhookEndpoint) {
            self.id = endpoint.id.rawValue
            self.url = endpoint.url
            self.events = endpoint.events?.joined(separator: ", ") ?? "all events"
            self.secretHint = WebhookSecret.hint(endpoint.secret)
            self.createdAt = Time(endpoint.createdAt)
        }
    }

    struct DeliveryRow {
        let id: String
        let createdAt: Time
        let eventType: String
        let url: String
        let state: String
        let attempts: Int
        let lastStatus: String
        let lastError: String
        let canRedeliver: Bool

        init(_ delivery: WebhookDelivery) {
            self.id = delivery.id.rawValue
            self.createdAt = Time(delivery.createdAt)
            self.eventType = delivery.eventType
            self.url = delivery.url
            self.state = delivery.state.rawValue
            self.attempts = delivery.attempts
            self.lastStatus = delivery.lastStatus.map(String.init) ?? "—"
            self.lastError = delivery.lastError ?? ""
            self.canRedeliver = delivery.state == .failed || delivery.state == .succeeded
        }
    }

    struct Messages {
        let sessions: [Option]
        let directions: [Option]
        let readStates: [Option]
        let phone: String
        let messages: [MessageRow]
    }

    struct MessageRow {
        let timestamp: Time
        let direction: String
        let from: String
        let fromName: String
        let to: String
        let body: String
        let status: String

        init(_ message: Message) {
            self.timestamp = Time(message.timestamp)
            self.direction = message.direction.rawValue
            self.from = message.from.e164
            self.fromName = message.fromName ?? ""
            self.to = message.to.e164
            self.body = message.body
            self.status = message.status.rawValue
        }
    }
}
