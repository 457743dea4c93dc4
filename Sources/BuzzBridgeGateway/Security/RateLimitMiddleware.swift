import Foundation
import HTTPTypes
import Hummingbird

/// Per API key: at most the key's limit of requests in any sliding minute. Every response,
/// errors included, carries the budget: `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
/// `X-RateLimit-Reset` (Unix time, in seconds, at which a slot frees up); past the limit the
/// answer is 429 RATE_LIMIT_EXCEEDED with `Retry-After`. Runs after the key is authenticated.
struct APIRateLimitMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let limiter: SlidingWindowLimiter
    let defaultLimit: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let caller = try context.requireCaller()
        let decision = limiter.acquire(caller.keyID, limit: caller.requestsPerMinute ?? defaultLimit)
        var response: Response
        if decision.allowed {
            do {
                response = try await next(request, context)
            } catch {
                response = ErrorEnvelopeMiddleware.response(for: error, request: request, context: context)
            }
        } else {
            response = APIError(
                .rateLimitExceeded, "Too many requests: this API key may make \(decision.limit) requests per minute",
                details: ["retry_after": "\(decision.retryAfterSeconds)"]
            ).response()
            response.headers[.retryAfter] = "\(decision.retryAfterSeconds)"
        }
        response.headers[.xRateLimitLimit] = "\(decision.limit)"
        response.headers[.xRateLimitRemaining] = "\(decision.remaining)"
        response.headers[.xRateLimitReset] = "\(Int((Date().timeIntervalSince1970 + decision.resetAfter).rounded(.up)))"
        return response
    }
}

/// Per client address: after `limit` failed authentications in a minute, every request that
/// needs a credential is refused with 429 until the window frees up, so that keys, the admin
/// token and the admin password cannot be guessed at speed. Runs before the authenticator and
/// counts the 401s it produces.
struct FailedAuthLimitMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let limiter: SlidingWindowLimiter
    let limit: Int
    let trustProxy: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let address = ClientAddress.of(request, context: context, trustProxy: trustProxy)
        let budget = limiter.check(address, limit: limit)
        guard budget.allowed else {
            var response = APIError(
                .rateLimitExceeded, "Too many failed authentication attempts from this address",
                details: ["retry_after": "\(budget.retryAfterSeconds)"]
            ).response()
            response.headers[.retryAfter] = "\(budget.retryAfterSeconds)"
            return response
        }
        do {
            let response = try await next(request, context)
            if response.status == .unauthorized { limiter.record(address) }
            return response
        } catch let error as APIError where error.code == .unauthorized {
            limiter.record(address)
            throw error
        }
    }
}
