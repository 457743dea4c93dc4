import AsyncHTTPClient
import BuzzBridgeCore
import BuzzBridgeEngines
import BuzzBridgeStorage
import Foundation
import HTTPTypes
import Hummingbird
import QRCode

/// `/admin`: the operator's web panel. Server-rendered pages, plain HTML forms (each with the
/// login's CSRF token), a few lines of JavaScript for the copy buttons and the live QR code.
struct AdminPanelRoutes: Sendable {
    let provisioning: Provisioning
    let store: any GatewayStore & WebhookStore
    let hub: SessionHub
    let password: AdminPassword
    let logins: AdminPanelSessions
    let failedLogins: FailedAuthLimiter
    let urlPolicy: WebhookURLPolicy
    /// Cookies get `Secure` when the panel is served over HTTPS (directly or via a trusted proxy).
    let secureCookies: Bool
    let pages: AdminPages

    func register(on router: Router<GatewayRequestContext>) {
        let panel = router.group("admin").add(middleware: AdminPanelErrorPages(pages: pages))
        panel.get(use: { _, _ in Self.redirect("/admin/sessions") })
        panel.get("login", use: loginPage)
        panel.post("login", use: login)

        let inside = panel.group().add(middleware: AdminPanelGuard(logins: logins))
        inside.post("logout", use: logout)
        inside.get("sessions", use: sessionsPage)
        inside.post("sessions", use: createSession)
        inside.get("sessions/:session_id", use: sessionPage)
        inside.get("sessions/:session_id/pairing", use: pairingState)
        inside.post("sessions/:session_id/pairing-code", use: pairingCode)
        inside.post("sessions/:session_id/disconnect", use: disconnect)
        inside.get("keys", use: keysPage)
        inside.post("keys", use: createKey)
        inside.post("keys/:key_id/revoke", use: revokeKey)
        inside.post("keys/:key_id/regenerate", use: regenerateKey)
        inside.get("webhooks", use: webhooksPage)
        inside.post("webhooks", use: saveWebhook)
        inside.post("webhooks/:webhook_id/remove", use: removeWebhook)
        inside.post("webhooks/:webhook_id/test", use: testWebhook)
        inside.post("deliveries/:delivery_id/redeliver", use: redeliver)
        inside.get("messages", use: messagesPage)
    }

    static func redirect(_ location: String, cookies: [String] = []) -> Response {
        var headers = HTTPFields()
        headers[.location] = location
        for cookie in cookies { headers.append(HTTPField(name: .setCookie, value: cookie)) }
        return Response(status: .seeOther, headers: headers)
    }

    // MARK: Login

    @Sendable func loginPage(request: Request, context: GatewayRequestContext) async throws -> Response {
        if let id = request.cookies[AdminCookie.session]?.value, logins.login(id) != nil { return Self.redirect("/admin/sessions") }
        return try loginForm(problem: nil, status: .ok)
    }

    private func loginForm(problem: String?, status: HTTPResponse.Status) throws -> Response {
        let token = RandomToken.base62(length: 43)
        var response = try pages.render(
            "login", title: "Log in", section: nil, csrf: nil, flash: problem.map(AdminPages.Flash.problem), status: status,
            page: PanelViews.Login(loginToken: token)
        )
        response.headers.append(
            HTTPField(name: .setCookie, value: AdminCookie.header(AdminCookie.loginCSRF, value: token, path: "/admin/login", secure: secureCookies))
        )
        return response
    }

    @Sendable func login(request: Request, context: GatewayRequestContext) async throws -> Response {
        var request = request
        let form = try await FormInput.read(&request)
        guard let cookie = request.cookies[AdminCookie.loginCSRF]?.value, let token = form["_csrf"], AdminPanelSessions.tokensMatch(cookie, token)
        else {
            throw APIError(.forbidden, "The form's security token is missing or wrong (CSRF); reload the page and try again")
        }
        // The attempt is counted before the PBKDF2 check, so concurrent guesses cannot outrun the limit.
        let reservation = try await failedLogins.reserve(for: request, context: context).get()
        guard let candidate = form["password"], try await password.verify(candidate) else {
            return try loginForm(problem: "Wrong password.", status: .unauthorized)
        }
        try await failedLogins.release(reservation)
        let id = logins.start()
        return Self.redirect(
            "/admin/sessions",
            cookies: [
                AdminCookie.header(AdminCookie.session, value: id, path: "/admin", secure: secureCookies),
                AdminCookie.header(AdminCookie.loginCSRF, value: "", path: "/admin/login", secure: secureCookies, maxAge: 0),
            ])
    }

    @Sendable func logout(request: Request, context: GatewayRequestContext) async throws -> Response {
        if let id = context.adminSessionCookie { logins.end(id) }
        return Self.redirect(
            "/admin/login", cookies: [AdminCookie.header(AdminCookie.session, value: "", path: "/admin", secure: secureCookies, maxAge: 0)])
    }

    // MARK: Sessions

    private func session(_ context: GatewayRequestContext, field: String = "session_id") async throws -> Session {
        let id = SessionID(rawValue: try context.parameters.require(field))
        guard let session = try await store.session(id) else { throw APIError(.notFound, "Session not found", details: ["session_id": id.rawValue]) }
        return session
    }

    private func session(named id: String?) async throws -> Session {
        guard let id, let session = try await store.session(SessionID(rawValue: id)) else {
            throw APIError.invalid("session_id", "must name a session")
        }
        return session
    }

    @Sendable func sessionsPage(request: Request, context: GatewayRequestContext) async throws -> Response {
        let sessions = try await store.sessions().map(PanelViews.SessionRow.init)
        return try pages.render(
            "sessions", title: "Sessions", section: .sessions, csrf: context.adminCSRF, page: PanelViews.Sessions(sessions: sessions))
    }

    @Sendable func createSession(request: Request, context: GatewayRequestContext) async throws -> Response {
        var request = request
        let form = try await FormInput.read(&request)
        guard let kind = SessionKind(rawValue: form["kind"] ?? "") else { throw APIError.invalid("kind", "must be one of: sandbox, live") }
        guard let name = form["name"], name.count <= 100 else { throw APIError.invalid("name", "must be 1 to 100 characters") }
        let session = try await provisioning.createSession(kind: kind, name: name)
        let issued = try await provisioning.issueKey(for: session.id, label: "created with the session")
        return try newKeyPage(issued, session: session, context: context, heading: "Session \(session.name) created")
    }

    @Sendable func sessionPage(request: Request, context: GatewayRequestContext) async throws -> Response {
        var session = try await session(context)
        var pairing: [PanelViews.Pairing] = []
        if session.status != .active {
            pairing = [PanelViews.Pairing(try await pairingState(for: session))]
            // Showing a code made the session pending.
            session = try await store.session(session.id) ?? session
        }
        return try pages.render(
            "session", title: session.name, section: .sessions, csrf: context.adminCSRF,
            page: PanelViews.SessionDetail(session: session, pairing: pairing)
        )
    }

    /// Link by phone number: the code the user types on the phone, shown on the session's page
    /// beside the QR code (which stays valid meanwhile).
    @Sendable func pairingCode(request: Request, context: GatewayRequestContext) async throws -> Response {
        var request = request
        let form = try await FormInput.read(&request)
        var session = try await session(context)
        let phone = try PhoneInput.parse(form["phone"] ?? "", field: "phone")
        guard session.status != .active else { throw APIError(EngineError.alreadyActive) }
        let engine = try await hub.engine(for: session)
        let code: LinkingCode
        do {
            code = try await engine.pairingCode(phone: phone)
        } catch {
            throw APIError(error)
        }
        session = try await store.session(session.id) ?? session
        let linking = PanelViews.LinkingCode(code: code.code, phone: code.phone.e164, expiresAt: code.expiresAt.iso8601)
        return try pages.render(
            "session", title: session.name, section: .sessions, csrf: context.adminCSRF,
            page: PanelViews.SessionDetail(
                session: session, pairing: [PanelViews.Pairing(try await pairingState(for: session))], linkingCodes: [linking])
        )
    }

    struct PairingState: Encodable, Sendable {
        let status: String
        let phoneNumber: String?
        let qrCode: String?
        let expiresAt: String?
        let problem: String?
        enum CodingKeys: String, CodingKey { case status, phoneNumber = "phone_number", qrCode = "qr_code", expiresAt = "expires_at", problem }
    }

    private func pairingState(for session: Session) async throws -> PairingState {
        guard session.status != .active else {
            return PairingState(status: session.status.rawValue, phoneNumber: session.phoneNumber?.e164, qrCode: nil, expiresAt: nil, problem: nil)
        }
        do {
            let code = try await hub.engine(for: session).qrCode()
            let image = try QRCode(text: code.payload, errorCorrection: .medium).pngDataURI(moduleSize: 8, quietZone: 4)
            // Showing a code moves the session to pending; report the stored status.
            let status = try await store.session(session.id)?.status ?? session.status
            return PairingState(status: status.rawValue, phoneNumber: nil, qrCode: image, expiresAt: code.expiresAt.iso8601, problem: nil)
        } catch let error as APIError {
            return PairingState(status: session.status.rawValue, phoneNumber: nil, qrCode: nil, expiresAt: nil, problem: error.message)
        } catch let error as EngineError {
            return PairingState(status: session.status.rawValue, phoneNumber: nil, qrCode: nil, expiresAt: nil, problem: APIError(error).message)
        }
    }

    /// What the page's script polls: the current QR code until the phone has scanned it.
    @Sendable func pairingState(request: Request, context: GatewayRequestContext) async throws -> Response {
        try JSONResponse.make(try await pairingState(for: try await session(context)), status: .ok, headers: [.cacheControl: "no-store"])
    }

    @Sendable func disconnect(request: Request, context: GatewayRequestContext) async throws -> Response {
        let session = try await session(context)
        if session.status != .disconnected {
            do {
                try await hub.engine(for: session).logout()
            } catch let error as EngineError {
                throw APIError(error)
            }
        }
        return Self.redirect("/admin/sessions/\(session.id.rawValue)")
    }

    // MARK: API keys

    @Sendable func keysPage(request: Request, context: GatewayRequestContext) async throws -> Response {
        var sections: [PanelViews.KeySection] = []
        for session in try await store.sessions() {
            let keys = try await store.apiKeys(session: session.id).reversed().map { PanelViews.KeyRow(key: $0, kind: session.kind) }
            sections.append(PanelViews.KeySection(session: session, keys: keys))
        }
        return try pages.render(
            "keys", title: "API keys", section: .keys, csrf: context.adminCSRF, flash: PanelNotice.flash(of: request),
            page: PanelViews.Keys(sessions: sections, scopes: APIKeyScope.allCases.map(\.rawValue))
        )
    }

    @Sendable func createKey(request: Request, context: GatewayRequestContext) async throws -> Response {
        var request = request
        let form = try await FormInput.read(&request)
        let session = try await session(named: form["session_id"])
        guard let scopes = APIKeyScope.parseList(form.all("scopes").joined(separator: " ")), !scopes.isEmpty else {
            throw APIError.invalid("scopes", "must include at least one of: " + APIKeyScope.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let limit = try form["requests_per_minute"].map { text throws(APIError) -> Int in
            guard let value = Int(text), (1...100_000).contains(value) else {
                throw APIError.invalid("requests_per_minute", "must be between 1 and 100000")
            }
            return value
        }
        let expiry = try form["expires_in_days"].map { text throws(APIError) -> Timestamp in
            guard let days = Int(text), (1...3650).contains(days) else { throw APIError.invalid("expires_in_days", "must be between 1 and 3650") }
            return Timestamp(millisecondsSinceEpoch: Timestamp.now().millisecondsSinceEpoch + Int64(days) * 86_400_000)
        }
        let label = form["label"]
        if let label, label.count > 100 { throw APIError.invalid("label", "must be at most 100 characters") }
        let issued = try await provisioning.issueKey(for: session.id, label: label, scopes: scopes, requestsPerMinute: limit, expiresAt: expiry)
        return try newKeyPage(issued, session: session, context: context, heading: "API key created")
    }

    @Sendable func revokeKey(request: Request, context: GatewayRequestContext) async throws -> Response {
        let id = try context.parameters.require("key_id")
        guard try await provisioning.revokeKey(id) else { throw APIError(.notFound, "API key not found or already revoked", details: ["key_id": id]) }
        return Self.redirect(PanelNotice.keyRevoked.location("/admin/keys"))
    }

    @Sendable func regenerateKey(request: Request, context: GatewayRequestContext) async throws -> Response {
        let issued: IssuedAPIKey
        do {
            issued = try await provisioning.regenerateKey(try context.parameters.require("key_id"))
        } catch let error as ProvisioningError {
            throw APIError(error)
        }
        guard let session = try await store.session(issued.record.sessionID) else { throw APIError.notFound }
        return try newKeyPage(issued, session: session, context: context, heading: "API key regenerated; the old one is revoked")
    }

    /// The only page that ever shows a key in full.
    private func newKeyPage(_ issued: IssuedAPIKey, session: Session, context: GatewayRequestContext, heading: String) throws -> Response {
        try pages.render(
            "new-key", title: heading, section: .keys, csrf: context.adminCSRF,
            page: PanelViews.NewKey(
                plaintext: issued.plaintext, sessionID: session.id.rawValue, sessionName: session.name,
                scopes: issued.record.scopes.sorted().map(\.rawValue).joined(separator: ", ")
            )
        )
    }

    // MARK: Webhooks

    @Sendable func webhooksPage(request: Request, context: GatewayRequestContext) async throws -> Response {
        try await webhooksPage(context: context, flash: PanelNotice.flash(of: request))
    }

    private func webhooksPage(context: GatewayRequestContext, flash: AdminPages.Flash?) async throws -> Response {
        var sections: [PanelViews.WebhookSection] = []
        for session in try await store.sessions() {
            let endpoints = try await store.webhookEndpoints(session: session.id).map(PanelViews.EndpointRow.init)
            let deliveries = try await store.webhookDeliveries(DeliveryQuery(sessionID: session.id, state: nil, limit: 25)).map(
                PanelViews.DeliveryRow.init)
            sections.append(PanelViews.WebhookSection(id: session.id.rawValue, name: session.name, endpoints: endpoints, deliveries: deliveries))
        }
        return try pages.render(
            "webhooks", title: "Webhooks", section: .webhooks, csrf: context.adminCSRF, flash: flash,
            page: PanelViews.Webhooks(sessions: sections, eventTypes: WebhookEventFilter.eventTypes)
        )
    }

    @Sendable func saveWebhook(request: Request, context: GatewayRequestContext) async throws -> Response {
        var request = request
        let form = try await FormInput.read(&request)
        let session = try await session(named: form["session_id"])
        guard let url = form["url"] else { throw APIError.invalid("url", "is required") }
        if let problem = await urlPolicy.check(url) { throw APIError.invalid("url", problem.description) }
        guard let secret = form["secret"] else { throw APIError.invalid("secret", "is required") }
        if let problem = WebhookSecret.problem(secret) { throw APIError.invalid("secret", problem) }
        let events = form.all("events").isEmpty ? nil : form.all("events")
        if let problem = WebhookEventFilter.problem(events) { throw APIError.invalid("events", problem) }
        let (_, created) = try await store.saveWebhookEndpoint(session: session.id, url: url, secret: secret, events: events, at: .now())
        return Self.redirect((created ? PanelNotice.webhookAdded : .webhookUpdated).location("/admin/webhooks", fragment: session.id.rawValue))
    }

    @Sendable func removeWebhook(request: Request, context: GatewayRequestContext) async throws -> Response {
        let id = WebhookEndpointID(rawValue: try context.parameters.require("webhook_id"))
        guard try await store.removeWebhookEndpoint(id: id, at: .now()) else {
            throw APIError(.notFound, "Webhook not found or already removed", details: ["webhook_id": id.rawValue])
        }
        return Self.redirect(PanelNotice.webhookRemoved.location("/admin/webhooks"))
    }

    /// Sends a signed `webhook.test` event to one endpoint now, outside the delivery queue, and
    /// shows what the receiver answered on the webhooks page.
    @Sendable func testWebhook(request: Request, context: GatewayRequestContext) async throws -> Response {
        let id = WebhookEndpointID(rawValue: try context.parameters.require("webhook_id"))
        guard let endpoint = try await store.webhookEndpoint(id: id), endpoint.disabledAt == nil else {
            throw APIError(.notFound, "Webhook not found", details: ["webhook_id": id.rawValue])
        }
        if let problem = await urlPolicy.check(endpoint.url) { throw APIError.invalid("url", problem.description) }
        let outcome = await WebhookTestEvent.send(to: endpoint)
        return try await webhooksPage(context: context, flash: .success("Test event sent to \(endpoint.url): \(outcome)"))
    }

    @Sendable func redeliver(request: Request, context: GatewayRequestContext) async throws -> Response {
        let id = DeliveryID(rawValue: try context.parameters.require("delivery_id"))
        let notice: PanelNotice
        switch try await store.redeliver(id, at: .now()) {
        case .queued: notice = .deliveryQueued
        case .notFound: throw APIError(.notFound, "Delivery not found", details: ["delivery_id": id.rawValue])
        case .alreadyQueued: notice = .deliveryAlreadyQueued
        case .endpointRemoved: notice = .webhookGone
        }
        return Self.redirect(notice.location("/admin/webhooks"))
    }

    // MARK: Messages

    @Sendable func messagesPage(request: Request, context: GatewayRequestContext) async throws -> Response {
        let sessions = try await store.sessions()
        let input = QueryInput(request: request)
        let chosen = input.raw("session_id").flatMap { id in sessions.first { $0.id.rawValue == id } } ?? sessions.first
        let status = try input.choice("status", default: ReadFilter.all)
        let phone = try input.raw("phone").flatMap { $0.isEmpty ? nil : try PhoneInput.parse($0, field: "phone") }
        let direction = input.raw("direction").flatMap(MessageDirection.init(rawValue:))
        var messages: [PanelViews.MessageRow] = []
        if let chosen {
            let page = try await store.messages(MessageQuery(sessionID: chosen.id, limit: 100, offset: 0, status: status, contact: phone))
            messages = page.messages.filter { direction == nil || $0.direction == direction }.map(PanelViews.MessageRow.init)
        }
        let view = PanelViews.Messages(
            sessions: sessions.map { .init(value: $0.id.rawValue, name: $0.name, isSelected: $0.id == chosen?.id) },
            directions: [("", "both"), ("incoming", "incoming"), ("outgoing", "outgoing")].map { value, name in
                .init(value: value, name: name, isSelected: value == (direction?.rawValue ?? ""))
            },
            readStates: ReadFilter.allCases.map { .init(value: $0.rawValue, name: $0.rawValue, isSelected: $0 == status) },
            phone: phone?.e164 ?? "",
            messages: messages
        )
        return try pages.render("messages", title: "Messages", section: .messages, csrf: context.adminCSRF, page: view)
    }
}

/// The panel's "send test event": one signed request, answered or not within ten seconds.
enum WebhookTestEvent {
    static func send(to endpoint: WebhookEndpoint) async -> String {
        let now = Timestamp.now()
        let deliveryID = "test_" + RandomToken.base62(length: 16)
        let body = Array(
            #"{"data":{"message":"Test event from the BuzzBridge admin panel","session_id":"\#(endpoint.sessionID.rawValue)","webhook_id":"\#(endpoint.id.rawValue)"},"event":"webhook.test","timestamp":"\#(now.iso8601)"}"#
                .utf8)
        var request = HTTPClientRequest(url: endpoint.url)
        request.method = .POST
        for (name, value) in WebhookSignature.headers(
            event: "webhook.test", deliveryID: deliveryID, timestamp: now, body: body, secret: endpoint.secret)
        {
            request.headers.add(name: name, value: value)
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        // Redirects are not followed: the URL policy checked this address, not another.
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
        let outcome: String
        do {
            let response = try await client.execute(request, timeout: .seconds(10))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            outcome = "HTTP \(response.status.code)"
        } catch {
            outcome = "failed (\(String(describing: error).prefix(200)))"
        }
        try? await client.shutdown()
        return outcome
    }
}
