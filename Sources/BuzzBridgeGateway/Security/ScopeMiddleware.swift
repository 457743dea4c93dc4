import BuzzBridgeStorage
import Hummingbird

/// Which scope each API endpoint needs, in one table, checked after authentication: a key
/// without it gets 403 FORBIDDEN naming the scope. Paths that match nothing need no scope
/// (they end in 404).
struct ScopeMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    static func requiredScope(method: HTTPRequest.Method, path: String) -> APIKeyScope? {
        let parts = path.split(separator: "/").dropFirst().map(String.init)  // drops "api"
        switch (method, parts.first) {
        case (.post, "messages") where parts == ["messages", "send"]: return .messagesSend
        case (_, "messages"), (_, "conversations"), (_, "media"): return .messagesRead
        case (_, "qr"), (_, "session"), (_, "sandbox"): return .sessionManage
        default: return nil
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let caller = try context.requireCaller()
        if let scope = Self.requiredScope(method: request.method, path: request.uri.path), !caller.scopes.contains(scope) {
            throw APIError(.forbidden, "This API key lacks the \(scope.rawValue) scope", details: ["scope": "\(scope.rawValue) required"])
        }
        return try await next(request, context)
    }
}
