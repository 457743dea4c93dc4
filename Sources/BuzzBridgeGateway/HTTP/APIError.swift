import BuzzBridgeEngines
import BuzzBridgeStorage
import Hummingbird

/// The spec's error codes, each with its HTTP status.
public enum ErrorCode: String, Sendable, CaseIterable {
    case unauthorized = "UNAUTHORIZED"
    case forbidden = "FORBIDDEN"
    case notFound = "NOT_FOUND"
    case methodNotAllowed = "METHOD_NOT_ALLOWED"
    case idempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED"
    case payloadTooLarge = "PAYLOAD_TOO_LARGE"
    case headersTooLarge = "HEADERS_TOO_LARGE"
    case validationError = "VALIDATION_ERROR"
    case sessionInactive = "SESSION_INACTIVE"
    case sessionAlreadyActive = "SESSION_ALREADY_ACTIVE"
    case invalidPhoneNumber = "INVALID_PHONE_NUMBER"
    case messageTooLong = "MESSAGE_TOO_LONG"
    case rateLimitExceeded = "RATE_LIMIT_EXCEEDED"
    /// A `Range` header that no byte of a media file satisfies.
    case rangeNotSatisfiable = "RANGE_NOT_SATISFIABLE"
    case internalError = "INTERNAL_ERROR"
    case serviceUnavailable = "SERVICE_UNAVAILABLE"

    public var status: HTTPResponse.Status {
        switch self {
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .idempotencyKeyReused: .conflict
        case .payloadTooLarge: .contentTooLarge
        case .headersTooLarge: .init(code: 431, reasonPhrase: "Request Header Fields Too Large")
        case .validationError, .sessionInactive, .sessionAlreadyActive, .invalidPhoneNumber, .messageTooLong: .badRequest
        case .rateLimitExceeded: .tooManyRequests
        case .rangeNotSatisfiable: .rangeNotSatisfiable
        case .internalError: .internalServerError
        case .serviceUnavailable: .serviceUnavailable
        }
    }
}

/// An error as the API reports it: `{"success":false,"error":{"code","message","details"}}`.
public struct APIError: Error, Sendable, Equatable {
    public var code: ErrorCode
    public var message: String
    /// Field name → what is wrong with it.
    public var details: [String: String]?
    /// Headers the answer carries besides the envelope (`Allow`, `Retry-After`).
    public var headers: HTTPFields

    public init(_ code: ErrorCode, _ message: String, details: [String: String]? = nil, headers: HTTPFields = [:]) {
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers
    }

    public static func invalid(_ field: String, _ problem: String) -> APIError {
        APIError(.validationError, "Invalid request parameter: \(field) \(problem)", details: [field: problem])
    }

    public static let notFound = APIError(.notFound, "Resource not found")

    static func bodyTooLarge(limit: Int) -> APIError {
        APIError(.payloadTooLarge, "Request body is too large", details: ["body": "must be at most \(limit) bytes"])
    }

    /// A path that exists, asked with a method it does not have.
    static func methodNotAllowed(_ method: HTTPRequest.Method, allowed: [HTTPRequest.Method]) -> APIError {
        let allow = allowed.map(\.rawValue).joined(separator: ", ")
        return APIError(
            .methodNotAllowed, "\(method.rawValue) is not allowed on this endpoint; allowed: \(allow)",
            details: ["method": "must be one of: \(allow)"], headers: [.allow: allow]
        )
    }
    public static let sessionInactive = APIError(.sessionInactive, "WhatsApp session not connected")
}

extension APIError {
    /// The one place engine errors become API errors.
    init(_ error: EngineError) {
        switch error {
        case .alreadyActive:
            self.init(.sessionAlreadyActive, "WhatsApp session is already active")
        case .notConnected:
            self = .sessionInactive
        case .notOnWhatsApp(let phone):
            self.init(.invalidPhoneNumber, "Phone number is not registered on WhatsApp", details: ["phone": phone.e164])
        case .unavailable(let reason):
            self.init(.serviceUnavailable, "Service temporarily unavailable: \(reason)")
        case .failed(let reason):
            self.init(.validationError, reason)
        case .rejected(let reason):
            self.init(.serviceUnavailable, "WhatsApp did not accept the request: \(reason)")
        case .recordingFailed:
            self.init(.internalError, "Internal server error")
        }
    }
}
