import BuzzBridgeStorage
import Foundation
import HTTPTypes
import Hummingbird

/// Per API key: at most the key's limit of requests in any sliding minute. Every response,
/// errors included, carries the budget: `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
/// `X-RateLimit-Reset` (Unix time, in seconds, at which a slot frees up); past the limit the
/// answer is 429 RATE_LIMIT_EXCEEDED with `Retry-After`. Runs after the key is authenticated.
struct APIRateLimitMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let limiter: any RateLimitCounter
    let defaultLimit: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let caller = try context.requireCaller()
        let decision = try await limiter.acquire(caller.keyID, limit: caller.requestsPerMinute ?? defaultLimit)
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

/// Per client address: at most `limit` failed authentications in any sliding minute; past it a
/// wrong or unknown credential is answered 429 (with `Retry-After`) instead of 401.
///
/// - A failure takes its slot atomically as it is answered, so however many guesses arrive at
///   once, at most `limit` of them get a 401 in a window.
/// - A valid API key or admin token is never refused because of other failures from its address
///   (behind NAT or a proxy, anyone could otherwise lock the integration out): they carry ~190
///   random bits, are checked with one hash, and cannot be guessed.
/// - The admin password can be guessed and costs a PBKDF2 to check: its attempt is reserved
///   *before* the check (``reserve(for:context:)``), and given back only when it was right.
struct FailedAuthLimiter: Sendable {
    let limiter: any RateLimitCounter
    let limit: Int
    let trustProxy: Bool

    /// The answer to a credential that did not check out: `unauthorized` while the address has
    /// budget left (the failure is counted), 429 once it has none.
    func refusal(_ unauthorized: APIError, request: Request, context: GatewayRequestContext) async throws -> APIError {
        let address = ClientAddress.of(request, context: context, trustProxy: trustProxy)
        let decision = try await limiter.reserve(address, limit: limit).decision
        return decision.allowed ? unauthorized : Self.tooManyFailures(decision)
    }

    /// A slot for one password check, taken before the check; nil (with the 429 to answer)
    /// when the address has used up its budget.
    func reserve(for request: Request, context: GatewayRequestContext) async throws -> Result<Reservation, APIError> {
        let address = ClientAddress.of(request, context: context, trustProxy: trustProxy)
        let (decision, instant) = try await limiter.reserve(address, limit: limit)
        guard let instant else { return .failure(Self.tooManyFailures(decision)) }
        return .success(Reservation(address: address, instant: instant))
    }

    /// The password was right: its attempt does not count.
    func release(_ reservation: Reservation) async throws {
        try await limiter.release(reservation.address, instant: reservation.instant)
    }

    struct Reservation: Sendable {
        let address: String
        let instant: Double
    }

    static func tooManyFailures(_ decision: RateLimitDecision) -> APIError {
        APIError(
            .rateLimitExceeded, "Too many failed authentication attempts from this address",
            details: ["retry_after": "\(decision.retryAfterSeconds)"], headers: [.retryAfter: "\(decision.retryAfterSeconds)"]
        )
    }
}
