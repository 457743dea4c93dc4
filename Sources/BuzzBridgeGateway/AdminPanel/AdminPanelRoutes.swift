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

    func register(on router: Router<GatewayRequestContext>) {
        let panel = router.group("admin").add(middleware: AdminPanelErrorPages())
        panel.get(use: { _, _ in Self.redirect("/admin/sessions") })
        panel.get("login", use: loginPage)
        panel.post("login", use: login)

        let inside = panel.group().add(middleware: AdminPanelGuard(logins: logins))
        inside.post("logout", use: logout)
        inside.get("sessions", use: sessionsPage)
        inside.post("sessions", use: createSession)
        inside.get("sessions/:session_id", use: sessionPage)
        inside.get("sessions/:session_id/pairing", use: pairingState)
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
        return loginForm(problem: nil, status: .ok)
    }

    private func loginForm(problem: String?, status: HTTPResponse.Status) -> Response {
        let token = RandomToken.base62(length: 43)
        var response = AdminLayout.page(
            title: "Log in", section: nil, csrf: nil, flash: problem.map { AdminLayout.notice($0, kind: "error") }, status: status,
            """
            <form method="post" action="/admin/login" class="card login">
              <input type="hidden" name="_csrf" value="\(token)">
              <label for="password">Admin password</label>
              <input type="password" id="password" name="password" autocomplete="current-password" required autofocus>
              <p class="hint">Set with <code>buzzbridge admin set-password</code>; the first start prints one.</p>
              <div class="row"><button type="submit">Log in</button></div>
            </form>
            """
        )
        response.headers.append(HTTPField(name: .setCookie, value: AdminCookie.header(AdminCookie.loginCSRF, value: token, path: "/admin/login", secure: secureCookies)))
        return response
    }

    @Sendable func login(request: Request, context: GatewayRequestContext) async throws -> Response {
        var request = request
        let form = try await FormInput.read(&request)
        guard let cookie = request.cookies[AdminCookie.loginCSRF]?.value, let token = form["_csrf"], AdminPanelSessions.tokensMatch(cookie, token) else {
            throw APIError(.forbidden, "The form's security token is missing or wrong (CSRF); reload the page and try again")
        }
        // The attempt is counted before the PBKDF2 check, so concurrent guesses cannot outrun the limit.
        let reservation = try failedLogins.reserve(for: request, context: context).get()
        guard let candidate = form["password"], try await password.verify(candidate) else {
            return loginForm(problem: "Wrong password.", status: .unauthorized)
        }
        failedLogins.release(reservation)
        let id = logins.start()
        return Self.redirect("/admin/sessions", cookies: [
            AdminCookie.header(AdminCookie.session, value: id, path: "/admin", secure: secureCookies),
            AdminCookie.header(AdminCookie.loginCSRF, value: "", path: "/admin/login", secure: secureCookies, maxAge: 0),
        ])
    }

    @Sendable func logout(request: Request, context: GatewayRequestContext) async throws -> Response {
        if let id = context.adminSessionCookie { logins.end(id) }
        return Self.redirect("/admin/login", cookies: [AdminCookie.header(AdminCookie.session, value: "", path: "/admin", secure: secureCookies, maxAge: 0)])
    }

    // MARK: Sessions

    private func session(_ context: GatewayRequestContext, field: String = "session_id") async throws -> Session {
        let id = SessionID(rawValue: try context.parameters.require(field))
        guard let session = try await store.session(id) else { throw APIError(.notFound, "Session not found", details: ["session_id": id.rawValue]) }
        return session
    }

    private func session(named id: String?) async throws -> Session {
        guard let id, let session = try await store.session(SessionID(rawValue: id)) else { throw APIError.invalid("session_id", "must name a session") }
        return session
    }

    static func badge(_ text: String) -> HTML { "<span class=\"badge \(text)\">\(text)</span>" }
    static func time(_ time: Timestamp?) -> HTML { time.map { "<time>\($0.iso8601)</time>" } ?? "<span class=\"muted\">—</span>" }

    @Sendable func sessionsPage(request: Request, context: GatewayRequestContext) async throws -> Response {
        let rows = try await store.sessions().map { session -> HTML in
            """
            <tr><td><a href="/admin/sessions/\(session.id.rawValue)">\(session.name)</a><br><code class="muted">\(session.id.rawValue)</code></td>
            <td>\(session.kind.rawValue)</td><td>\(Self.badge(session.status.rawValue))</td><td>\(session.phoneNumber?.e164 ?? "—")</td>
            <td>\(Self.time(session.connectedAt))</td><td>\(Self.time(session.lastActivity))</td></tr>
            """
        }
        return AdminLayout.page(title: "Sessions", section: .sessions, csrf: context.adminCSRF, """
            <table><thead><tr><th>Session</th><th>Kind</th><th>Status</th><th>Phone number</th><th>Connected</th><th>Last activity</th></tr></thead>
            <tbody>\(rows)</tbody></table>
            <h2>New session</h2>
            <form method="post" action="/admin/sessions" class="card">\(AdminLayout.csrfField(context.adminCSRF))
              <label for="name">Name</label><input type="text" id="name" name="name" maxlength="100" required placeholder="OFYS Support">
              <label for="kind">Kind</label><select id="kind" name="kind"><option value="live">live (a real WhatsApp number)</option><option value="sandbox">sandbox</option></select>
              <div class="row"><button type="submit">Create session and first API key</button></div>
            </form>
            """)
    }

    @Sendable func createSession(request: Request, context: GatewayRequestContext) async throws -> Response {
        var request = request
        let form = try await FormInput.read(&request)
        guard let kind = SessionKind(rawValue: form["kind"] ?? "") else { throw APIError.invalid("kind", "must be one of: sandbox, live") }
        guard let name = form["name"], name.count <= 100 else { throw APIError.invalid("name", "must be 1 to 100 characters") }
        let session = try await provisioning.createSession(kind: kind, name: name)
        let issued = try await provisioning.issueKey(for: session.id, label: "created with the session")
        return newKeyPage(issued, session: session, context: context, heading: "Session \(session.name) created")
    }

    @Sendable func sessionPage(request: Request, context: GatewayRequestContext) async throws -> Response {
        var session = try await session(context)
        var pairing: HTML = ""
        if session.status != .active {
            let state = try await pairingState(for: session)
            // Showing a code made the session pending.
            session = try await store.session(session.id) ?? session
            let image: HTML = state.qrCode.map { "<img src=\"\($0)\" alt=\"WhatsApp pairing QR code\">" } ?? "<img alt=\"\">"
            pairing = """
                <h2>Link a phone</h2>
                <div class="card qr" data-qr-poll="/admin/sessions/\(session.id.rawValue)/pairing">\(image)
                  <div><p>Open WhatsApp on the phone → <strong>Linked devices</strong> → <strong>Link a device</strong>, and scan this code.</p>
                  <p class="muted">The code renews itself until it is scanned; this one expires at <span id="qr-expiry">\(state.expiresAt ?? "—")</span>.</p>
                  \(state.problem.map { AdminLayout.notice($0, kind: "error") } ?? "")</div>
                </div>
                """
        }
        let disconnect: HTML = session.status == .disconnected ? "" : """
            <form method="post" action="/admin/sessions/\(session.id.rawValue)/disconnect" class="inline">\(AdminLayout.csrfField(context.adminCSRF))
            <button class="danger" type="submit">Disconnect</button></form>
            """
        return AdminLayout.page(title: session.name, section: .sessions, csrf: context.adminCSRF, """
            <div class="card"><table><tbody>
            <tr><th>Session id</th><td><code>\(session.id.rawValue)</code></td></tr>
            <tr><th>Kind</th><td>\(session.kind.rawValue)</td></tr>
            <tr><th>Status</th><td><span id="session-status" class="badge \(session.status.rawValue)">\(session.status.rawValue)</span></td></tr>
            <tr><th>Phone number</th><td>\(session.phoneNumber?.e164 ?? "—")</td></tr>
            <tr><th>Connected</th><td>\(Self.time(session.connectedAt))</td></tr>
            <tr><th>Last activity</th><td>\(Self.time(session.lastActivity))</td></tr>
            </tbody></table>
            <div class="row">\(disconnect)<a href="/admin/keys#\(session.id.rawValue)">API keys</a> · <a href="/admin/webhooks#\(session.id.rawValue)">Webhooks</a> · <a href="/admin/messages?session_id=\(session.id.rawValue)">Messages</a></div></div>
            \(pairing)
            """)
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
            let code = try await hub.engine(for: session).pairingCode()
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
        let sessions = try await store.sessions()
        var sections: [HTML] = []
        for session in sessions {
            let rows = try await store.apiKeys(session: session.id).reversed().map { key -> HTML in
                let state = key.revokedAt != nil ? "revoked" : (key.isExpired(at: .now()) ? "expired" : "active")
                let actions: HTML = key.revokedAt != nil ? "" : """
                    <form method="post" action="/admin/keys/\(key.id)/regenerate" class="inline">\(AdminLayout.csrfField(context.adminCSRF))<button class="secondary" type="submit">Regenerate</button></form>
                    <form method="post" action="/admin/keys/\(key.id)/revoke" class="inline">\(AdminLayout.csrfField(context.adminCSRF))<button class="danger" type="submit">Revoke</button></form>
                    """
                return """
                    <tr data-key-id="\(key.id)"><td><code>\(APIKeyFormat.displayPrefix(of: key, kind: session.kind))</code><br><span class="muted">\(key.label ?? "")</span></td>
                    <td>\(key.scopes.sorted().map(\.rawValue).joined(separator: ", "))</td><td>\(key.requestsPerMinute.map(String.init) ?? "default")</td>
                    <td>\(Self.time(key.createdAt))</td><td>\(Self.time(key.lastUsedAt))</td><td>\(Self.time(key.expiresAt))</td>
                    <td>\(Self.badge(state))</td><td>\(actions)</td></tr>
                    """
            }
            sections.append("""
                <h2 id="\(session.id.rawValue)">\(session.name) <span class="muted">· \(session.kind.rawValue)</span></h2>
                <table><thead><tr><th>Key</th><th>Scopes</th><th>Requests/min</th><th>Created</th><th>Last used</th><th>Expires</th><th>State</th><th></th></tr></thead>
                <tbody>\(rows)</tbody></table>
                """)
        }
        let options = sessions.map { session -> HTML in "<option value=\"\(session.id.rawValue)\">\(session.name) (\(session.kind.rawValue))</option>" }
        let scopes = APIKeyScope.allCases.map { scope -> HTML in
            "<label><input type=\"checkbox\" name=\"scopes\" value=\"\(scope.rawValue)\" checked> \(scope.rawValue)</label>"
        }
        let flash: HTML? = request.uri.queryParameters.get("done").flatMap { done in
            done == "revoked" ? AdminLayout.notice("The key was revoked; it stopped working at once.") : nil
        }
        return AdminLayout.page(title: "API keys", section: .keys, csrf: context.adminCSRF, flash: flash, """
            <p class="muted">Rotate without downtime: create a new key, switch your integration to it, then revoke the old one. Both work in between.</p>
            <form method="post" action="/admin/keys" class="card"><h2 style="margin-top:0">New API key</h2>\(AdminLayout.csrfField(context.adminCSRF))
              <label for="key-session">Session</label><select id="key-session" name="session_id">\(options)</select>
              <label for="label">Label</label><input type="text" id="label" name="label" maxlength="100" placeholder="OFYS production">
              <label>Scopes</label><div class="checks">\(scopes)</div>
              <label for="rate">Requests per minute</label><input type="number" id="rate" name="requests_per_minute" min="1" max="100000" placeholder="instance default">
              <label for="expires">Expires after (days)</label><input type="number" id="expires" name="expires_in_days" min="1" max="3650" placeholder="never">
              <div class="row"><button type="submit">Create key</button></div>
            </form>
            \(sections)
            """)
    }

    @Sendable func createKey(request: Request, context: GatewayRequestContext) async throws -> Response {
        var request = request
        let form = try await FormInput.read(&request)
        let session = try await session(named: form["session_id"])
        guard let scopes = APIKeyScope.parseList(form.all("scopes").joined(separator: " ")), !scopes.isEmpty else {
            throw APIError.invalid("scopes", "must include at least one of: " + APIKeyScope.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let limit = try form["requests_per_minute"].map { text throws(APIError) -> Int in
            guard let value = Int(text), (1...100_000).contains(value) else { throw APIError.invalid("requests_per_minute", "must be between 1 and 100000") }
            return value
        }
        let expiry = try form["expires_in_days"].map { text throws(APIError) -> Timestamp in
            guard let days = Int(text), (1...3650).contains(days) else { throw APIError.invalid("expires_in_days", "must be between 1 and 3650") }
            return Timestamp(millisecondsSinceEpoch: Timestamp.now().millisecondsSinceEpoch + Int64(days) * 86_400_000)
        }
        let label = form["label"]
        if let label, label.count > 100 { throw APIError.invalid("label", "must be at most 100 characters") }
        let issued = try await provisioning.issueKey(for: session.id, label: label, scopes: scopes, requestsPerMinute: limit, expiresAt: expiry)
        return newKeyPage(issued, session: session, context: context, heading: "API key created")
    }

    @Sendable func revokeKey(request: Request, context: GatewayRequestContext) async throws -> Response {
        let id = try context.parameters.require("key_id")
        guard try await provisioning.revokeKey(id) else { throw APIError(.notFound, "API key not found or already revoked", details: ["key_id": id]) }
        return Self.redirect("/admin/keys?done=revoked")
    }

    @Sendable func regenerateKey(request: Request, context: GatewayRequestContext) async throws -> Response {
        let id = try context.parameters.require("key_id")
        let issued: IssuedAPIKey
        do {
            issued = try await provisioning.regenerateKey(id)
        } catch ProvisioningError.unknownKey {
            throw APIError(.notFound, "API key not found or already revoked", details: ["key_id": id])
        }
        guard let session = try await store.session(issued.record.sessionID) else { throw APIError.notFound }
        return newKeyPage(issued, session: session, context: context, heading: "API key regenerated; the old one is revoked")
    }

    /// The only page that ever shows a key in full.
    private func newKeyPage(_ issued: IssuedAPIKey, session: Session, context: GatewayRequestContext, heading: String) -> Response {
        AdminLayout.page(title: heading, section: .keys, csrf: context.adminCSRF, """
            <div class="card">
              <p>Copy this key now: it is shown <strong>once</strong> and cannot be recovered.</p>
              <code class="secret" id="new-key">\(issued.plaintext)</code>
              <div class="row"><button type="button" data-copy="new-key">Copy</button><a href="/admin/keys#\(session.id.rawValue)">Done</a></div>
              <p class="muted">Session <strong>\(session.name)</strong> · scopes \(issued.record.scopes.sorted().map(\.rawValue).joined(separator: ", "))</p>
              <p class="muted">In OFYS: Admin Panel → Developers → Integration → WhatsApp Web.js: API URL <code>https://your-host/api</code>, API key as above.</p>
            </div>
            """)
    }

    // MARK: Webhooks

    @Sendable func webhooksPage(request: Request, context: GatewayRequestContext) async throws -> Response {
        let sessions = try await store.sessions()
        var sections: [HTML] = []
        for session in sessions {
            let endpoints = try await store.webhookEndpoints(session: session.id).map { endpoint -> HTML in
                """
                <tr><td><code>\(endpoint.url)</code></td><td>\(endpoint.events?.joined(separator: ", ") ?? "all events")</td>
                <td><code>\(WebhookSecret.hint(endpoint.secret))</code></td><td>\(Self.time(endpoint.createdAt))</td>
                <td><form method="post" action="/admin/webhooks/\(endpoint.id.rawValue)/test" class="inline">\(AdminLayout.csrfField(context.adminCSRF))<button class="secondary" type="submit">Send test event</button></form>
                <form method="post" action="/admin/webhooks/\(endpoint.id.rawValue)/remove" class="inline">\(AdminLayout.csrfField(context.adminCSRF))<button class="danger" type="submit">Remove</button></form></td></tr>
                """
            }
            let deliveries = try await store.webhookDeliveries(DeliveryQuery(sessionID: session.id, state: nil, limit: 25)).map { delivery -> HTML in
                let redeliver: HTML = (delivery.state == .failed || delivery.state == .succeeded) ? """
                    <form method="post" action="/admin/deliveries/\(delivery.id.rawValue)/redeliver" class="inline">\(AdminLayout.csrfField(context.adminCSRF))<button class="secondary" type="submit">Redeliver</button></form>
                    """ : ""
                return """
                    <tr><td>\(Self.time(delivery.createdAt))</td><td>\(delivery.eventType)</td><td><code>\(delivery.url)</code></td>
                    <td>\(Self.badge(delivery.state.rawValue))</td><td>\(delivery.attempts)</td><td>\(delivery.lastStatus.map(String.init) ?? "—")</td>
                    <td class="muted">\(delivery.lastError ?? "")</td><td>\(redeliver)</td></tr>
                    """
            }
            sections.append("""
                <h2 id="\(session.id.rawValue)">\(session.name)</h2>
                <table><thead><tr><th>URL</th><th>Events</th><th>Secret</th><th>Created</th><th></th></tr></thead><tbody>\(endpoints)</tbody></table>
                <h2>Delivery log · \(session.name)</h2>
                <table><thead><tr><th>Created</th><th>Event</th><th>URL</th><th>State</th><th>Attempts</th><th>Last status</th><th>Last error</th><th></th></tr></thead><tbody>\(deliveries)</tbody></table>
                """)
        }
        let options = sessions.map { session -> HTML in "<option value=\"\(session.id.rawValue)\">\(session.name)</option>" }
        let events = WebhookEventFilter.eventTypes.map { event -> HTML in
            "<label><input type=\"checkbox\" name=\"events\" value=\"\(event)\"> \(event)</label>"
        }
        let flash: HTML? = request.uri.queryParameters.get("notice").map { AdminLayout.notice($0) }
        return AdminLayout.page(title: "Webhooks", section: .webhooks, csrf: context.adminCSRF, flash: flash, """
            <form method="post" action="/admin/webhooks" class="card"><h2 style="margin-top:0">Add or update a webhook</h2>\(AdminLayout.csrfField(context.adminCSRF))
              <label for="wh-session">Session</label><select id="wh-session" name="session_id">\(options)</select>
              <label for="wh-url">URL</label><input type="url" id="wh-url" name="url" required placeholder="https://your-ofys.com/api/webhooks/whatsapp">
              <label for="wh-secret">Secret</label><input type="text" id="wh-secret" name="secret" required maxlength="256" autocomplete="off">
              <p class="hint">Requests are signed: <code>X-Webhook-Signature: sha256=HMAC-SHA256(secret, body)</code>.</p>
              <label>Events</label><div class="checks">\(events)</div><p class="hint">None ticked: all events.</p>
              <div class="row"><button type="submit">Save webhook</button></div>
            </form>
            \(sections)
            """)
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
        return Self.redirect("/admin/webhooks?notice=" + (created ? "Webhook+added" : "Webhook+updated") + "#\(session.id.rawValue)")
    }

    @Sendable func removeWebhook(request: Request, context: GatewayRequestContext) async throws -> Response {
        let id = WebhookEndpointID(rawValue: try context.parameters.require("webhook_id"))
        guard try await store.removeWebhookEndpoint(id: id, at: .now()) else {
            throw APIError(.notFound, "Webhook not found or already removed", details: ["webhook_id": id.rawValue])
        }
        return Self.redirect("/admin/webhooks?notice=Webhook+removed")
    }

    /// Sends a signed `webhook.test` event to one endpoint now, outside the delivery queue, and
    /// reports what the receiver answered.
    @Sendable func testWebhook(request: Request, context: GatewayRequestContext) async throws -> Response {
        let id = WebhookEndpointID(rawValue: try context.parameters.require("webhook_id"))
        guard let endpoint = try await store.webhookEndpoint(id: id), endpoint.disabledAt == nil else {
            throw APIError(.notFound, "Webhook not found", details: ["webhook_id": id.rawValue])
        }
        if let problem = await urlPolicy.check(endpoint.url) { throw APIError.invalid("url", problem.description) }
        let outcome = await WebhookTestEvent.send(to: endpoint)
        let notice = "Test event sent to \(endpoint.url): \(outcome)"
        var components = URLComponents()
        components.queryItems = [URLQueryItem(name: "notice", value: notice)]
        return Self.redirect("/admin/webhooks" + (components.percentEncodedQuery.map { "?" + $0 } ?? ""))
    }

    @Sendable func redeliver(request: Request, context: GatewayRequestContext) async throws -> Response {
        let id = DeliveryID(rawValue: try context.parameters.require("delivery_id"))
        let notice: String
        switch try await store.redeliver(id, at: .now()) {
        case .queued: notice = "Delivery+queued+again"
        case .notFound: throw APIError(.notFound, "Delivery not found", details: ["delivery_id": id.rawValue])
        case .alreadyQueued: notice = "That+delivery+is+already+queued"
        case .endpointRemoved: notice = "That+webhook+was+removed"
        }
        return Self.redirect("/admin/webhooks?notice=\(notice)")
    }

    // MARK: Messages

    @Sendable func messagesPage(request: Request, context: GatewayRequestContext) async throws -> Response {
        let sessions = try await store.sessions()
        let input = QueryInput(request: request)
        let chosen = input.raw("session_id").flatMap { id in sessions.first { $0.id.rawValue == id } } ?? sessions.first
        let status = try input.choice("status", default: ReadFilter.all)
        let phone = try input.raw("phone").flatMap { $0.isEmpty ? nil : try PhoneInput.parse($0, field: "phone") }
        let direction = input.raw("direction").flatMap(MessageDirection.init(rawValue:))
        var rows: [HTML] = []
        if let chosen {
            let page = try await store.messages(MessageQuery(sessionID: chosen.id, limit: 100, offset: 0, status: status, contact: phone))
            rows = page.messages.filter { direction == nil || $0.direction == direction }.map { message -> HTML in
                """
                <tr><td>\(Self.time(message.timestamp))</td><td>\(message.direction.rawValue)</td><td>\(message.from.e164)<br><span class="muted">\(message.fromName ?? "")</span></td>
                <td>\(message.to.e164)</td><td>\(message.body)</td><td>\(Self.badge(message.status.rawValue))</td></tr>
                """
            }
        }
        let sessionOptions = sessions.map { session -> HTML in
            "<option value=\"\(session.id.rawValue)\"\(session.id == chosen?.id ? HTML(raw: " selected") : "")>\(session.name)</option>"
        }
        let statusOptions = ReadFilter.allCases.map { filter -> HTML in
            "<option\(filter == status ? HTML(raw: " selected") : "")>\(filter.rawValue)</option>"
        }
        let directionOptions: [HTML] = [("", "both"), ("incoming", "incoming"), ("outgoing", "outgoing")].map { value, name in
            "<option value=\"\(value)\"\(value == (direction?.rawValue ?? "") ? HTML(raw: " selected") : "")>\(name)</option>"
        }
        return AdminLayout.page(title: "Messages", section: .messages, csrf: context.adminCSRF, """
            <form method="get" action="/admin/messages" class="card filters">
              <div><label for="m-session">Session</label><select id="m-session" name="session_id">\(sessionOptions)</select></div>
              <div><label for="m-direction">Direction</label><select id="m-direction" name="direction">\(directionOptions)</select></div>
              <div><label for="m-status">Read state</label><select id="m-status" name="status">\(statusOptions)</select></div>
              <div><label for="m-phone">Phone</label><input type="text" id="m-phone" name="phone" value="\(phone?.e164 ?? "")" placeholder="+60123456789"></div>
              <div><button type="submit">Filter</button></div>
            </form>
            <table><thead><tr><th>Time</th><th>Direction</th><th>From</th><th>To</th><th>Message</th><th>Status</th></tr></thead><tbody>\(rows)</tbody></table>
            \(rows.isEmpty ? AdminLayout.notice("No messages match.", kind: "muted") : "")
            """)
    }
}

/// The panel's "send test event": one signed request, answered or not within ten seconds.
enum WebhookTestEvent {
    static func send(to endpoint: WebhookEndpoint) async -> String {
        let now = Timestamp.now()
        let deliveryID = "test_" + RandomToken.base62(length: 16)
        let body = Array(#"{"data":{"message":"Test event from the BuzzBridge admin panel","session_id":"\#(endpoint.sessionID.rawValue)","webhook_id":"\#(endpoint.id.rawValue)"},"event":"webhook.test","timestamp":"\#(now.iso8601)"}"#.utf8)
        var request = HTTPClientRequest(url: endpoint.url)
        request.method = .POST
        for (name, value) in WebhookSignature.headers(event: "webhook.test", deliveryID: deliveryID, timestamp: now, body: body, secret: endpoint.secret) {
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
