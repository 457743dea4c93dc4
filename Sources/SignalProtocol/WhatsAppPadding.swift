import Foundation

/// WhatsApp pads every plaintext before Signal encryption with 1–16 bytes, each holding the
/// pad length, so message sizes leak less; receivers strip it after decryption.
public enum WhatsAppPadding {
    public static func pad(_ plaintext: some DataProtocol) -> Data {
        var generator = SystemRandomNumberGenerator()
        return pad(plaintext, using: &generator)
    }

    public static func pad(_ plaintext: some DataProtocol, using generator: inout some RandomNumberGenerator) -> Data {
        let length = UInt8.random(in: 1...16, using: &generator)
        return Data(plaintext) + Data(repeating: length, count: Int(length))
    }

    /// Removes the padding; the last byte gives its length, which must fit in the message.
    public static func unpad(_ padded: some DataProtocol) throws(SignalError) -> Data {
        let bytes = Data(padded)
        guard let length = bytes.last, length > 0, Int(length) <= bytes.count else {
            throw .invalidMessage("bad WhatsApp padding")
        }
        return bytes.dropLast(Int(length))
    }
}
