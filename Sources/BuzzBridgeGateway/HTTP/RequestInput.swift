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
            throw .invalid(
                name,
                range.upperBound == Int.max ? "must be at least \(range.lowerBound)" : "must be between \(range.lowerBound) and \(range.upperBound)")
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
    /// Only spaces and tabs around the number are ignored, as the OpenAPI document's pattern says.
    static func parse(_ text: String, field: String) throws(APIError) -> PhoneNumber {
        var candidate = String(text.trimmingPrefix { $0 == " " || $0 == "\t" })
        while let last = candidate.last, last == " " || last == "\t" { candidate.removeLast() }
        if let first = candidate.first, first.isNumber { candidate = "+" + candidate }
        guard let phone = PhoneNumber(candidate) else {
            throw .invalid(field, "must be a phone number in E.164 format, such as +60123456789")
        }
        return phone
    }
}

/// A JSON object request body, read with per-field type checks. Fields not in the endpoint's
/// schema are refused (the OpenAPI document declares `additionalProperties: false`), and so is
/// `null` where the schema does not allow it.
struct JSONObjectInput {
    private let fields: [String: JSONValue]
    /// How errors name this object's fields: empty for the body, `media.` for a nested object.
    private var path = ""
    /// The body's length in bytes, as read.
    private(set) var bodySize = 0

    /// `limit` overrides the context's body limit (for bodies that may carry a file).
    static func read(_ request: Request, context: GatewayRequestContext, fields allowed: Set<String>, limit: Int? = nil) async throws
        -> JSONObjectInput
    {
        var request = request
        let buffer: ByteBuffer
        let limit = limit ?? context.maxUploadSize
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch {
            throw APIError.bodyTooLarge(limit: limit)
        }
        var input = try parse(Data(buffer.readableBytesView), fields: allowed)
        input.bodySize = buffer.readableBytes
        return input
    }

    static func parse(_ data: Data, fields allowed: Set<String>) throws(APIError) -> JSONObjectInput {
        guard !data.isEmpty else { throw APIError.invalid("body", "must be a JSON object") }
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw APIError.invalid("body", "is not valid JSON")
        }
        guard case .object(let fields) = value else { throw APIError.invalid("body", "must be a JSON object") }
        if let unknown = fields.keys.filter({ !allowed.contains($0) }).min() {
            throw APIError(
                .validationError, "Invalid request parameter: unknown field \"\(unknown)\"",
                details: [unknown.isEmpty ? "body" : unknown: "is not a field of this request; allowed: " + allowed.sorted().joined(separator: ", ")]
            )
        }
        return JSONObjectInput(fields: fields)
    }

    /// The field's value; nil when it is absent, or null where null is allowed.
    private func value(_ name: String, nullable: Bool) throws(APIError) -> JSONValue? {
        switch fields[name] {
        case nil: return nil
        case .null?: if nullable { return nil } else { throw .invalid(path + name, "must not be null") }
        case let value?: return value
        }
    }

    func string(_ name: String, nullable: Bool = true) throws(APIError) -> String? {
        guard let value = try value(name, nullable: nullable) else { return nil }
        guard case .string(let string) = value else { throw .invalid(path + name, "must be a string") }
        return string
    }

    func requiredString(_ name: String) throws(APIError) -> String {
        guard let value = try string(name, nullable: false) else { throw .invalid(path + name, "is required") }
        return value
    }

    func integer(_ name: String, in range: ClosedRange<Int>, nullable: Bool = true) throws(APIError) -> Int? {
        guard let value = try value(name, nullable: nullable) else { return nil }
        // Booleans are their own case, never numbers; fractions must not be truncated.
        guard case .number(let number) = value, let integer = Int(exactly: number) else { throw .invalid(path + name, "must be an integer") }
        guard range.contains(integer) else { throw .invalid(path + name, "must be between \(range.lowerBound) and \(range.upperBound)") }
        return integer
    }

    func strings(_ name: String, nullable: Bool = true) throws(APIError) -> [String]? {
        guard let value = try value(name, nullable: nullable) else { return nil }
        guard case .array(let items) = value else { throw .invalid(path + name, "must be an array of strings") }
        var strings: [String] = []
        for item in items {
            guard case .string(let string) = item else { throw .invalid(path + name, "must be an array of strings") }
            strings.append(string)
        }
        return strings
    }

    /// A nested object, its fields checked like the body's and named `name.field` in errors.
    func object(_ name: String, fields allowed: Set<String>) throws(APIError) -> JSONObjectInput? {
        guard let value = try value(name, nullable: true) else { return nil }
        guard case .object(let nested) = value else { throw .invalid(path + name, "must be an object") }
        if let unknown = nested.keys.filter({ !allowed.contains($0) }).min() {
            throw .invalid(path + name + "." + unknown, "is not a field of \(name); allowed: " + allowed.sorted().joined(separator: ", "))
        }
        var object = JSONObjectInput(fields: nested)
        object.path = path + name + "."
        return object
    }

    /// Whether the field is present with a string value (for fields that take one of several types).
    func isString(_ name: String) -> Bool {
        if case .string? = fields[name] { return true }
        return false
    }
}

/// A JSON document as its six kinds of value. Decoded with `JSONDecoder`, which keeps `true` and
/// `1` apart on every platform (`JSONSerialization` on Linux hands both out as an `NSNumber` that
/// passes an `is Bool` test, so `{"rate_limit":1}` was once refused as "not an integer").
enum JSONValue: Decodable, Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let bool = try? container.decode(Bool.self) {
            self = .bool(bool)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let string = try? container.decode(String.self) {
            self = .string(string)
        } else if let array = try? container.decode([JSONValue].self) {
            self = .array(array)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }
}
