import Foundation

/// WhatsApp pads every plaintext before Signal encryption with 1–15 bytes, each holding the
/// pad length, so message sizes leak less; receivers strip it after decryption
/// (whatsmeow message.go: padMessage, unpadMessage).
public enum WhatsAppPadding {
    public static func pad(_ plaintext: some DataProtocol) -> Data {
        var generator = SystemRandomNumberGenerator()
        return pad(plaintext, using: &generator)
    }

    /// The length is the low nibble of a random byte, 15 when that nibble is 0.
    public static func pad(_ plaintext: some DataProtocol, using generator: inout some RandomNumberGenerator) -> Data {
        let nibble = UInt8.random(in: .min ... .max, using: &generator) & 0x0F
        let length = nibble == 0 ? 15 : nibble
        return Data(plaintext) + Data(repeating: length, count: Int(length))
    }

    /// Removes the padding; the last byte gives its length, which must fit in the message, and
    /// every padding byte must hold it.
    public static func unpad(_ padded: some DataProtocol) throws(SignalError) -> Data {
        let bytes = Data(padded)
        guard let length = bytes.last, length > 0, Int(length) <= bytes.count,
            bytes.suffix(Int(length)).allSatisfy({ $0 == length })
        else {
            throw .invalidMessage("bad WhatsApp padding")
        }
        return bytes.dropLast(Int(length))
    }
}
