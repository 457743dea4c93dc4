import Crypto
import Foundation

/// WhatsApp Web message ids (whatsmeow send.go: GenerateMessageID): `3EB0` and 18 upper-case
/// hex digits, the first 9 bytes of SHA-256 over the Unix time (8 bytes, big-endian), the own
/// user with `@c.us`, and 16 random bytes. Unique enough that a receiver never confuses two.
public enum MessageIDs {
    public static let prefix = "3EB0"

    public static func generate(ownUser: String?, now: Date = Date()) -> String {
        var generator = SystemRandomNumberGenerator()
        return generate(ownUser: ownUser, now: now, using: &generator)
    }

    public static func generate(ownUser: String?, now: Date, using generator: inout some RandomNumberGenerator) -> String {
        let seconds = UInt64(max(0, now.timeIntervalSince1970))
        var data = Data((0..<8).reversed().map { UInt8(truncatingIfNeeded: seconds >> (8 * UInt64($0))) })
        if let ownUser, !ownUser.isEmpty { data.append(contentsOf: Array("\(ownUser)@c.us".utf8)) }
        data.append(contentsOf: (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        let digest = SHA256.hash(data: data)
        return prefix + digest.prefix(9).map { String(format: "%02X", $0) }.joined()
    }
}
