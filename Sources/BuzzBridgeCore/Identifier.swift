/// Random identifiers and secrets, drawn from the system's cryptographically secure generator.
public enum RandomToken {
    static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// `length` base62 characters; 62 is not a power of two, so bytes above the largest
    /// multiple of 62 are rejected rather than folded, keeping every character equally likely.
    public static func base62(length: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        var result = [UInt8]()
        result.reserveCapacity(length)
        while result.count < length {
            // Eight random bytes per call to the system generator (a syscall), not one.
            var word = generator.next()
            for _ in 0..<8 where result.count < length {
                let byte = UInt8(truncatingIfNeeded: word)
                word >>= 8
                if byte < 248 { result.append(alphabet[Int(byte % 62)]) }
            }
        }
        return String(decoding: result, as: UTF8.self)
    }
}

/// A session: one WhatsApp account linked to BuzzBridge (`session_…`).
public struct SessionID: Hashable, Sendable, Codable, CustomStringConvertible, RawRepresentable {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static func generate() -> SessionID { SessionID(rawValue: "session_" + RandomToken.base62(length: 16)) }
    public var description: String { rawValue }
}

/// A stored message (`msg_…`), incoming or outgoing.
public struct MessageID: Hashable, Sendable, Codable, CustomStringConvertible, RawRepresentable {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static func generate() -> MessageID { MessageID(rawValue: "msg_" + RandomToken.base62(length: 20)) }
    public var description: String { rawValue }
}
