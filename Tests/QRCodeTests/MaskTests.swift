import Testing

@testable import QRCode

@Suite struct MaskTests {
    static let payloads: [(String, QRCode.ErrorCorrection)] = [
        ("01234567", .medium),
        (Payload.link, .low),
        (Payload.link, .high),
        (Payload.pairing, .low),
        (Payload.pairing, .medium),
    ]

    /// The eight finished candidates for each payload, as the encoder scores them.
    static func candidates(_ text: String, _ level: QRCode.ErrorCorrection) throws -> [QRCode] {
        try (0...7).map { try QRCode(text: text, errorCorrection: level, mask: $0) }
    }

    static func penalty(rows: [String]) -> MaskPenalty {
        MaskPenalty(modules: rows.flatMap { $0.map { $0 == "1" } }, size: rows.count)
    }

    /// Each rule's score for 40 finished symbols equals the peer's on the same modules
    /// (segno's N1, N2, N4; see qr_peer.py for N3).
    @Test func penaltyRulesMatchPeer() async throws {
        var codes: [QRCode] = []
        for (text, level) in Self.payloads { codes += try Self.candidates(text, level) }
        let reference = try await QRPeer.scores(codes.map(\.rows))
        try #require(reference.count == codes.count)
        for (code, expected) in zip(codes, reference) {
            let penalty = Self.penalty(rows: code.rows)
            #expect(
                [penalty.runs, penalty.blocks, penalty.finderLikePatterns, penalty.balance] == expected.rules, "v\(code.version) mask \(code.mask)")
        }
    }

    /// The automatic choice is the lowest independent score over the finished candidates
    /// (first on ties). segno's own choice is not compared: it scores the symbol before
    /// format and version information are drawn, so it can pick another mask.
    @Test func automaticMaskHasLowestIndependentPenalty() async throws {
        for (text, level) in Self.payloads {
            let candidates = try Self.candidates(text, level)
            let totals = try await QRPeer.scores(candidates.map(\.rows)).map { $0.rules.reduce(0, +) }
            let lowest = totals.firstIndex(of: totals.min()!)!
            let automatic = try QRCode(text: text, errorCorrection: level)
            #expect(automatic.mask == lowest, "\(level) \(text.prefix(12)): scores \(totals)")
            #expect(automatic == candidates[lowest])
        }
    }

    @Test func ruleScoresOnHandmadePatterns() {
        // A 21×21 all-light matrix: every row and column is one run of 21 (3 + 16 = 19 points,
        // 42 lines), 20×20 same-colour 2×2 blocks, no finder-like run, 0 % dark.
        let blank = Array(repeating: String(repeating: "0", count: 21), count: 21)
        #expect(Self.penalty(rows: blank) == MaskPenalty(runs: 42 * 19, blocks: 400 * 3, finderLikePatterns: 0, balance: 100))

        // One row 1011101 followed by light: a finder-like run counted once in that row; the
        // columns through it hold 1-module dark runs, each with 4 light below.
        let single = ["101110100000000000000"] + blank.dropFirst()
        #expect(Self.penalty(rows: single).finderLikePatterns == 40)
        // Light on neither side: 0000 is needed before or after the run.
        let enclosed = ["111011101100000000000"] + blank.dropFirst()
        #expect(Self.penalty(rows: enclosed).finderLikePatterns == 0)
        // Two occurrences sharing a module, the first after the symbol edge, the second before 0000.
        let overlapping = ["101110101110100000000"] + blank.dropFirst()
        #expect(Self.penalty(rows: overlapping).finderLikePatterns == 80)
    }

    @Test func maskPatternsFollowTable10() {
        // Spot values of ISO/IEC 18004 Table 10 at column x, row y.
        #expect(ModuleMatrix.isMasked(x: 1, y: 1, by: 0))
        #expect(!ModuleMatrix.isMasked(x: 0, y: 1, by: 1))
        #expect(ModuleMatrix.isMasked(x: 3, y: 5, by: 2))
        #expect(ModuleMatrix.isMasked(x: 1, y: 2, by: 3))
        #expect(ModuleMatrix.isMasked(x: 3, y: 2, by: 4) && !ModuleMatrix.isMasked(x: 3, y: 0, by: 4))
        #expect(ModuleMatrix.isMasked(x: 6, y: 5, by: 5))
        #expect(ModuleMatrix.isMasked(x: 1, y: 1, by: 6) && !ModuleMatrix.isMasked(x: 1, y: 3, by: 6))
        #expect(ModuleMatrix.isMasked(x: 0, y: 0, by: 7) && !ModuleMatrix.isMasked(x: 1, y: 0, by: 7))
    }

    @Test func applyingAMaskTwiceRestoresTheMatrix() {
        var matrix = ModuleMatrix(version: SymbolVersion(5, .quartile))
        matrix.placeCodewords(QRCode.codewords(for: Array(Payload.link.utf8), in: SymbolVersion(5, .quartile)))
        let original = matrix.rows
        for mask in 0...7 {
            matrix.applyMask(mask)
            #expect(matrix.rows != original)
            matrix.applyMask(mask)
            #expect(matrix.rows == original)
        }
    }
}
