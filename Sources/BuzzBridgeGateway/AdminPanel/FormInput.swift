import Foundation
import Hummingbird

/// An `application/x-www-form-urlencoded` body, as the panel's HTML forms send it.
struct FormInput: Sendable {
    private let fields: [String: [String]]

    init(fields: [String: [String]]) {
        self.fields = fields
    }

    static func read(_ request: inout Request, limit: Int = 64 * 1024) async throws -> FormInput {
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch {
            throw APIError(.validationError, "Form is too large")
        }
        return parse(String(buffer: buffer))
    }

    static func parse(_ text: String) -> FormInput {
        var fields: [String: [String]] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decode(parts[0]), value = parts.count > 1 ? decode(parts[1]) : ""
            fields[name, default: []].append(value)
        }
        return FormInput(fields: fields)
    }

    private static func decode(_ part: Substring) -> String {
        let spaced = part.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }

    /// The first value, trimmed; nil when missing or empty.
    subscript(_ name: String) -> String? {
        guard let value = fields[name]?.first?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
        return value
    }

    /// Every value of a repeated field (checkboxes).
    func all(_ name: String) -> [String] { fields[name] ?? [] }
}
