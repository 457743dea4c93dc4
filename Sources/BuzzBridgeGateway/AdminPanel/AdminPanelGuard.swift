import Foundation
import HTTPTypes
import Hummingbird

/// The admin panel's cookies.
enum AdminCookie {
    static let session = "bzb_admin_session"
    /// Double-submit token of the login form, before any session exists.
    static let loginCSRF = "bzb_login_csrf"

    /// HttpOnly always, SameSite=Strict always, Secure whenever the panel is reached over HTTPS.
    static func header(_ name: String, value: String, path: String, secure: Bool, maxAge: Int? = nil) -> String {
        var parts = ["\(name)=\(value)", "Path=\(path)", "HttpOnly", "SameSite=Strict"]
        if secure { parts.append("Secure") }
        if let maxAge { parts.append("Max-Age=\(maxAge)") }
        return parts.joined(separator: "; ")
    }
}

/// Lets only logged-in browsers through, and on every POST checks the form's CSRF token
/// against the one issued to that login. Anything else is refused before a handler runs.
struct AdminPanelGuard: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let logins: AdminPanelSessions

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let id = request.cookies[AdminCookie.session]?.value, let login = logins.login(id) else {
            if request.method == .get { return AdminPanelRoutes.redirect("/admin/login") }
            throw APIError(.unauthorized, "Your admin session has ended; log in again")
        }
        var context = context
        context.adminCSRF = login.csrfToken
        context.adminSessionCookie = id
        guard request.method == .post else { return try await next(request, context) }
        var request = request
        let form = try await FormInput.read(&request)
        guard let token = form["_csrf"], AdminPanelSessions.tokensMatch(token, login.csrfToken) else {
            throw APIError(.forbidden, "The form's security token is missing or wrong (CSRF); reload the page and try again")
        }
        return try await next(request, context)
    }
}

/// Errors in the panel become HTML pages, not the API's JSON envelope.
struct AdminPanelErrorPages: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let pages: AdminPages

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let apiError: APIError
            switch error {
            case let error as APIError: apiError = error
            case let error as HTTPError: apiError = ErrorEnvelopeMiddleware<Context>.translate(error)
            default:
                context.logger.error(
                    "admin panel request failed", metadata: ["error": "\(String(reflecting: error))", "path": "\(request.uri.path)"])
                apiError = APIError(.internalError, "Internal server error")
            }
            let details = (apiError.details ?? [:]).sorted { $0.key < $1.key }.map { PanelViews.ErrorPage.Detail(field: $0.key, problem: $0.value) }
            var page = try pages.render(
                "error", title: "Something went wrong", section: context.adminCSRF == nil ? nil : .sessions, csrf: context.adminCSRF,
                status: apiError.code.status, page: PanelViews.ErrorPage(message: apiError.message, details: details)
            )
            page.headers.append(contentsOf: apiError.headers)
            return page
        }
    }
}
