import Testing

@testable import QRCode

/// The PNG the gateway will serve, read back by zxing-cpp, an independent decoder.
@Suite struct DecodeRoundTripTests {
    @Test(arguments: [Payload.pairing, Payload.link, "2@short,a=,b=,c="], [QRCode.ErrorCorrection.low, .medium])
    func zxingReadsTheExactString(text: String, level: QRCode.ErrorCorrection) async throws {
        let code = try QRCode(text: text, errorCorrection: level)
        let symbols = try await QRPeer.zxingDecode(png: code.png())
        try #require(symbols.count == 1)
        #expect(symbols[0].valid)
        #expect(symbols[0].format == "QR Code")
        #expect(symbols[0].ec_level == level.letter)
        #expect(symbols[0].version == String(code.version))
        #expect(symbols[0].mask == code.mask)
        // Not a single codeword needed correcting: the EC codewords are exactly right.
        #expect(symbols[0].unused_error_correction == 1.0)
        #expect(symbols[0].bytes == Array(text.utf8))
        #expect(symbols[0].text == text)
    }

    /// Every mask and a non-default scale still read back (a wrong mask or format word would not).
    @Test(arguments: 0...7)
    func zxingReadsEveryMask(mask: Int) async throws {
        let code = try QRCode(text: Payload.pairing, errorCorrection: .quartile, mask: mask)
        let symbols = try await QRPeer.zxingDecode(png: code.png(moduleSize: 3, quietZone: 4))
        try #require(symbols.count == 1)
        #expect(symbols[0].text == Payload.pairing)
        #expect(symbols[0].mask == mask)
        #expect(symbols[0].unused_error_correction == 1.0)
    }
}
