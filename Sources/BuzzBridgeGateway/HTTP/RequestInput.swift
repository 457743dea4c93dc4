import BuzzBridgeCore
import Foundation
import Hummingbird

/// Reads and validates query parameters, naming the offending field in every error.
struct QueryInput {
    let request: Request

    func raw(_ name: String) -> String? {
        request.uri.queryParameters.get(name)
    }

    func integer(_ name: String, default defaultValue: Int, in range: ClosedRange<Int>) throws(APIError) -> Int {
        guard let text = raw(name) else { return defaultValue }
        guard let value = Int(text) else { throw .invalid(name, "must be an integer") }
        guard range.contains(value) else {
            throw .invalid(name, range.upperBound == Int.max ? "must be at least \(range.lowerBound)" : "must be between \(range.lowerBound) and \(range.upperBound)")
        }
        return value
    }

    func choice<T: RawRepresentable & CaseIterable>(_ name: String, default defaultValue: T) throws(APIError) -> T where T.RawValue == String {
        guard let text = raw(name) else { return defaultValue }
        guard let value = T(rawValue: text) else {
            throw .invalid(name, "must be one of: " + T.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return value
    }

    func phone(_ name: String) throws(APIError) -> PhoneNumber? {
        guard let text = raw(name) else { return nil }
        return try PhoneInput.parse(text, field: name)
    }

    func timestamp(_ name: String) throws(APIError) -> Timestamp? {
        guard let text = raw(name) else { return nil }
        guard let value = Timestamp(iso8601: text) else {
            throw .invalid(name, "must be an ISO 8601 date such as 2025-10-05T00:00:00Z")
        }
        return value
    }
}

enum PhoneInput {
    /// Accepts E.164. A `+` sent unencoded in a query string arrives as a space, and some
    /// clients leave the `+` out altogether; both are read as the number they mean.
    static func parse(_ text: String, field: String) throws(APIError) -> PhoneNumber {
        var candidate = text.trimmingCharacters(in: .whitespaces)
        if let first = candidate.first, first.isNumber { candidate = "+" + candidate }
        guard let phone = PhoneNumber(candidate) else {
            throw .invalid(field, "must be a phone number in E.164 format, such as +60123456789")
        }
        return phone
    }
}

/// A JSON object request body, read with per-field type checks.
struct JSONObjectInput {
    private let fields: [String: Any]

    static func read(_ request: Request, context: GatewayRequestContext) async throws -> JSONObjectInput {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: context.maxUploadSize)
        } catch {
            throw APIError(.validationError, "Request body is too large", details: ["body": "must be at most \(context.maxUploadSize) bytes"])
        }
        guard buffer.readableBytes > 0 else { throw APIError.invalid("body", "must be a JSON object") }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView))
        } catch {
            throw APIError.invalid("body", "is not valid JSON")
        }
        guard let fields = object as? [String: Any] else { throw APIError.invalid("body", "must be a JSON object") }
        return JSONObjectInput(fields: fields)
    }

    func string(_ name: String) throws(APIError) -> String? {
        guard let value = fields[name], !(value is NSNull) else { return nil }
        // NSNumber bridges to String on some platforms; only real strings count.
        guard let string = value as? String, !(value is NSNumber) else { throw .invalid(name, "must be a string") }
        return string
    }

    func requiredString(_ name: String) throws(APIError) -> String {
        guard let value = try string(name) else { throw .invalid(name, "is required") }
        return value
    }

    func integer(_ name: String, in range: ClosedRange<Int>) throws(APIError) -> Int? {
        guard let value = fields[name], !(value is NSNull) else { return nil }
        // JSON numbers arrive as NSNumber; booleans do too, and fractions must not be truncated.
        guard let number = value as? NSNumber, !(value is Bool), let integer = Int(exactly: number.doubleValue) else {
            throw .invalid(name, "must be an integer")
        }
        guard range.contains(integer) else { throw .invalid(name, "must be between \(range.lowerBound) and \(range.upperBound)") }
        return integer
    }

    func strings(_ name: String) throws(APIError) -> [String]? {
        guard let value = fields[name], !(value is NSNull) else { return nil }
        guard let array = value as? [Any], array.allSatisfy({ $0 is String && !($0 is NSNumber) }) else {
            throw .invalid(name, "must be an array of strings")
        }
        return array.compactMap { $0 as? String }
    }
}
