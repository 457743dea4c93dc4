import Hummingbird

/// `/api/media/…` takes an API key like the rest of `/api` (authentication, rate limit, scope),
/// except a GET or HEAD of a file that carries a signed link's `sig`: that is checked by the
/// route itself against the link's HMAC, and needs no key.
struct MediaAccessMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let authenticator: APIKeyAuthenticator
    let rateLimit: APIRateLimitMiddleware
    let scope: ScopeMiddleware

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let isFile = request.uri.path.split(separator: "/").count == 3
        if isFile, request.method == .get || request.method == .head, request.uri.queryParameters.get("sig") != nil {
            return try await next(request, context)
        }
        return try await authenticator.handle(request, context: context) { request, context in
            try await rateLimit.handle(request, context: context) { request, context in
                try await scope.handle(request, context: context, next: next)
            }
        }
    }
}
