import Testing

@testable import QRCode

/// Whole symbols compared module for module with segno, an independent encoder.
@Suite struct GoldenMatrixTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let payload: [UInt8]
        let level: QRCode.ErrorCorrection
        let mask: Int
        var minimumVersion: Int? = nil
        var testDescription: String { "\(payload.count) bytes, \(level), mask \(mask), version ≥ \(minimumVersion ?? 1)" }
    }

    static let cases: [Case] = [
        // Version 1, one block, several masks.
        Case(payload: Array("01234567".utf8), level: .medium, mask: 0),
        Case(payload: Array("HELLO".utf8), level: .high, mask: 4),
        Case(payload: Array(Payload.link.utf8), level: .low, mask: 7),
        // Versions 2–6: alignment pattern, several blocks.
        Case(payload: Array(Payload.link.utf8), level: .quartile, mask: 1),
        Case(payload: Array(Payload.pairing.prefix(100).utf8), level: .high, mask: 2),
        // Version 7 and up: version information, two block sizes interleaved.
        Case(payload: Array(Payload.pairing.utf8), level: .low, mask: 3),
        Case(payload: Array(Payload.pairing.utf8), level: .medium, mask: 5),
        Case(payload: Array(Payload.pairing.utf8), level: .quartile, mask: 6),
        Case(payload: Array("abc".utf8), level: .high, mask: 6, minimumVersion: 7),
        // Non-ASCII bytes, and the largest symbol filled to capacity.
        Case(payload: (0...255).map { UInt8($0) }, level: .medium, mask: 7),
        Case(payload: (0..<2953).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }, level: .low, mask: 1),
    ]

    @Test(arguments: cases)
    func matchesSegnoWithFixedMask(_ testCase: Case) async throws {
        let code = try QRCode(
            bytes: testCase.payload,
            errorCorrection: testCase.level,
            mask: testCase.mask,
            minimumVersion: testCase.minimumVersion ?? 1
        )
        let reference = try await QRPeer.segnoSymbol(
            testCase.payload, level: testCase.level, mask: testCase.mask, version: testCase.minimumVersion
        )
        #expect(code.version == reference.version)
        #expect(code.mask == testCase.mask && reference.mask == testCase.mask)
        #expect(code.rows == reference.rows)
    }

    @Test func versionsSpanTheRange() throws {
        let versions = try Self.cases.map {
            try QRCode(bytes: $0.payload, errorCorrection: $0.level, mask: $0.mask, minimumVersion: $0.minimumVersion ?? 1).version
        }
        #expect(versions.contains(1) && versions.contains(40))
        #expect(versions.contains { (2...6).contains($0) })
        #expect(versions.contains { (7...39).contains($0) })
    }

    /// The symbol tables (Table 9 block structure, Annex E alignment positions) for all 160
    /// version/level pairs, against segno's constants.
    @Test func symbolTablesMatchSegno() async throws {
        let tables = try await QRPeer.segnoTables()
        for (level, rows) in [(QRCode.ErrorCorrection.low, tables.L), (.medium, tables.M), (.quartile, tables.Q), (.high, tables.H)] {
            for number in 1...40 {
                let version = SymbolVersion(number, level)
                #expect([version.totalCodewords, version.dataCodewords, version.blockCount] == rows[number - 1], "\(level) v\(number)")
                #expect(version.dataCodewordsPerBlock.reduce(0, +) == version.dataCodewords)
            }
        }
        for number in 1...40 {
            #expect(SymbolVersion(number, .low).alignmentPatternCenters == tables.alignment[number - 1], "v\(number)")
        }
    }
}
