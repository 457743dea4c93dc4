/// A phone number in E.164 form: `+`, a non-zero country digit, 8 to 15 digits in all.
public struct PhoneNumber: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    public let e164: String

    public init?(_ text: String) {
        let utf8 = text.utf8
        guard utf8.count >= 9, utf8.count <= 16, utf8.first == UInt8(ascii: "+") else { return nil }
        let digits = utf8.dropFirst()
        guard digits.first != UInt8(ascii: "0"),
            digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        self.e164 = text
    }

    /// Builds a number from bare digits, as WhatsApp JIDs carry them (`60123456789@s.whatsapp.net`).
    public init?(digits: String) {
        self.init("+" + digits)
    }

    /// The digits without the leading `+`.
    public var digits: Substring { e164.dropFirst() }

    public var description: String { e164 }

    public static func < (lhs: PhoneNumber, rhs: PhoneNumber) -> Bool { lhs.e164 < rhs.e164 }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let number = PhoneNumber(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an E.164 phone number"))
        }
        self = number
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(e164)
    }
}
