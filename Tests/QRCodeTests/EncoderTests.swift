import Testing

@testable import QRCode

@Suite struct EncoderTests {
    /// Byte-mode capacities of ISO/IEC 18004 Table 7 at both ends of the version range:
    /// the maximum fits, one byte more moves up (or fails at version 40).
    @Test(arguments: [
        (QRCode.ErrorCorrection.low, 17, 2953), (.medium, 14, 2331), (.quartile, 11, 1663), (.high, 7, 1273),
    ])
    func capacities(level: QRCode.ErrorCorrection, version1: Int, version40: Int) throws {
        #expect(try QRCode(bytes: [UInt8](repeating: 0x41, count: version1), errorCorrection: level, mask: 0).version == 1)
        #expect(try QRCode(bytes: [UInt8](repeating: 0x41, count: version1 + 1), errorCorrection: level, mask: 0).version == 2)
        #expect(try QRCode(bytes: [UInt8](repeating: 0x41, count: version40), errorCorrection: level, mask: 0).version == 40)
        #expect(throws: QRCode.EncodingError.dataTooLong(byteCount: version40 + 1, maximumByteCount: version40)) {
            try QRCode(bytes: [UInt8](repeating: 0x41, count: version40 + 1), errorCorrection: level)
        }
    }

    @Test func rejectsInvalidArguments() {
        #expect(throws: QRCode.EncodingError.invalidMask(8)) { try QRCode(text: "x", mask: 8) }
        #expect(throws: QRCode.EncodingError.invalidMask(-1)) { try QRCode(text: "x", mask: -1) }
        #expect(throws: QRCode.EncodingError.invalidVersion(41)) { try QRCode(text: "x", minimumVersion: 41) }
        #expect(throws: QRCode.EncodingError.invalidVersion(0)) { try QRCode(text: "x", minimumVersion: 0) }
    }

    @Test func pairingStringUsesAModestSymbol() throws {
        let low = try QRCode(text: Payload.pairing, errorCorrection: .low)
        let medium = try QRCode(text: Payload.pairing)
        #expect(low.version == 10 && low.size == 57)
        #expect(medium.version == 11 && medium.errorCorrection == .medium)
    }

    /// Known format words (ISO/IEC 18004 Annex C) and the version 7 word (Annex D).
    @Test func formatAndVersionWords() {
        #expect(ModuleMatrix.formatWord(errorCorrection: .medium, mask: 0) == 0x5412)
        #expect(ModuleMatrix.formatWord(errorCorrection: .low, mask: 0) == 0x77C4)
        #expect(ModuleMatrix.formatWord(errorCorrection: .high, mask: 7) == 0x083B)
        #expect(ModuleMatrix.versionWord(7) == 0x07C94)
        #expect(ModuleMatrix.versionWord(40) == 0x28C69)
    }

    @Test func textAndBytesAgree() throws {
        let text = "héllo → 世界"
        #expect(try QRCode(text: text) == QRCode(bytes: Array(text.utf8)))
    }

    @Test func bitBufferPacksMostSignificantBitFirst() {
        var bits = BitBuffer()
        bits.append(0b0100, width: 4)
        bits.append(0xAB, width: 8)
        bits.append(bit: true)
        bits.append(contentsOf: [0xFF])
        #expect(bits.count == 21)
        #expect(bits.bytes == [0x4A, 0xBF, 0xF8])
    }
}
