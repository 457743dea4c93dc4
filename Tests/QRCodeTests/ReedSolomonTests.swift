import Testing

@testable import QRCode

@Suite struct ReedSolomonTests {
    /// ISO/IEC 18004 Annex I: "01234567" as 1-M, sixteen data codewords and ten EC codewords.
    @Test func isoExampleVector() {
        let data: [UInt8] = [0x10, 0x20, 0x0C, 0x56, 0x61, 0x80, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11]
        let expected: [UInt8] = [0xA5, 0x24, 0xD4, 0xC1, 0xED, 0x36, 0xC7, 0x87, 0x2C, 0x55]
        #expect(ReedSolomonEncoder(degree: 10).remainder(of: data) == expected)
    }

    /// "01234567" in byte mode at 1-M: mode 0100, count 8, the eight bytes, terminator,
    /// then the alternating pad codewords, followed by the block's EC codewords.
    @Test func byteModeMessage() {
        let codewords = QRCode.codewords(for: Array("01234567".utf8), in: SymbolVersion(1, .medium))
        let data: [UInt8] = [0x40, 0x83, 0x03, 0x13, 0x23, 0x33, 0x43, 0x53, 0x63, 0x70, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11]
        #expect(codewords == data + ReedSolomonEncoder(degree: 10).remainder(of: data))
    }

    /// Every degree the QR tables use, on pseudo-random blocks, against segno's encoder.
    @Test(arguments: [7, 10, 13, 15, 16, 17, 18, 20, 22, 24, 26, 28, 30])
    func matchesSegno(degree: Int) async throws {
        var state: UInt32 = 0x9E37_79B9 &* UInt32(degree)
        let data: [UInt8] = (0..<(20 + degree)).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: state >> 24)
        }
        let reference = try await QRPeer.segnoErrorCorrection(data, degree: degree)
        #expect(ReedSolomonEncoder(degree: degree).remainder(of: data) == reference)
    }

    /// A codeword (data followed by its EC) is a multiple of the generator, so it
    /// evaluates to zero at every root αⁱ.
    @Test func codewordVanishesAtGeneratorRoots() {
        let data = Array("BuzzBridge pairing".utf8)
        let encoder = ReedSolomonEncoder(degree: 18)
        let codeword = data + encoder.remainder(of: data)
        for i in 0..<18 {
            let root = GaloisField.exp[i]
            let value = codeword.reduce(UInt8(0)) { GaloisField.multiply($0, root) ^ $1 }
            #expect(value == 0, "α^\(i)")
        }
    }

    @Test func fieldTablesAreInverse() {
        for x in 1...255 {
            #expect(GaloisField.exp[GaloisField.log[x]] == UInt8(x))
        }
        #expect(Set(GaloisField.exp[0..<255]).count == 255)
    }
}
