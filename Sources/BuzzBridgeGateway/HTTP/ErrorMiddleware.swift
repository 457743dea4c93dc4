import Hummingbird
import Logging

/// Turns every error thrown below it into the spec's error envelope, once, in one place.
/// Unknown errors become INTERNAL_ERROR with nothing of their text leaked; they are logged.
struct ErrorEnvelopeMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async -> Response {
        do {
            return try await next(request, context)
        } catch {
            return Self.response(for: error, request: request, context: context)
        }
    }

    /// The envelope for `error`; also used by middleware that must add headers to error responses.
    static func response(for error: any Error, request: Request, context: Context) -> Response {
        switch error {
        case let error as APIError:
            return error.response()
        case let error as HTTPError:
            return translate(error).response()
        default:
            context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))", "path": "\(request.uri.path)"])
            return APIError(.internalError, "Internal server error").response()
        }
    }

    /// Errors raised by the HTTP framework itself (no route, body too large, bad method).
    static func translate(_ error: HTTPError) -> APIError {
        switch error.status {
        case .notFound: .notFound
        case .methodNotAllowed: APIError(.methodNotAllowed, "This endpoint does not accept this method")
        case .contentTooLarge: APIError(.payloadTooLarge, "Request body is too large", details: ["body": "too large"])
        case .unauthorized: APIError(.unauthorized, "Invalid or missing API key")
        default:
            if error.status.code < 500 {
                APIError(.validationError, error.body ?? "Invalid request")
            } else {
                APIError(.internalError, "Internal server error")
            }
        }
    }
}
