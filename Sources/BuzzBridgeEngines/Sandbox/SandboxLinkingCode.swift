import BuzzBridgeCore

/// The sandbox's stand-in for WhatsApp's pairing code: eight characters of WhatsApp's alphabet
/// (whatsmeow `pair-code.go`: `linkingBase32`), a pure function of the session and the number so
/// that tests can predict it.
enum SandboxLinkingCode {
    static let alphabet = Array("123456789ABCDEFGHJKLMNPQRSTVWXYZ")

    static func code(session: SessionID, phone: PhoneNumber) -> String {
        // FNV-1a over both; 40 of its bits become the eight 5-bit characters.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in (session.rawValue + "|" + phone.e164).utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return String((0..<8).map { index in alphabet[Int((hash >> (5 * UInt64(index))) & 31)] })
    }
}
