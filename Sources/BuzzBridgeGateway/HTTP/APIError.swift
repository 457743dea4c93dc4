import BuzzBridgeEngines
import BuzzBridgeStorage
import Hummingbird

/// The spec's error codes, each with its HTTP status.
public enum ErrorCode: String, Sendable, CaseIterable {
    case unauthorized = "UNAUTHORIZED"
    case forbidden = "FORBIDDEN"
    case notFound = "NOT_FOUND"
    case validationError = "VALIDATION_ERROR"
    case sessionInactive = "SESSION_INACTIVE"
    case sessionAlreadyActive = "SESSION_ALREADY_ACTIVE"
    case invalidPhoneNumber = "INVALID_PHONE_NUMBER"
    case messageTooLong = "MESSAGE_TOO_LONG"
    case rateLimitExceeded = "RATE_LIMIT_EXCEEDED"
    case internalError = "INTERNAL_ERROR"
    case serviceUnavailable = "SERVICE_UNAVAILABLE"

    public var status: HTTPResponse.Status {
        switch self {
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .validationError, .sessionInactive, .sessionAlreadyActive, .invalidPhoneNumber, .messageTooLong: .badRequest
        case .rateLimitExceeded: .tooManyRequests
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

    public init(_ code: ErrorCode, _ message: String, details: [String: String]? = nil) {
        self.code = code
        self.message = message
        self.details = details
    }

    public static func invalid(_ field: String, _ problem: String) -> APIError {
        APIError(.validationError, "Invalid request parameter: \(field) \(problem)", details: [field: problem])
    }

    public static let notFound = APIError(.notFound, "Resource not found")
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
