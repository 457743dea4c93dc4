/// The geometry and codeword layout of one QR Code version (1–40) at one error-correction level.
struct SymbolVersion: Sendable, Hashable {
    static let range = 1...40

    let number: Int
    let errorCorrection: QRCode.ErrorCorrection

    init(_ number: Int, _ errorCorrection: QRCode.ErrorCorrection) {
        precondition(Self.range.contains(number), "QR version \(number) out of range")
        self.number = number
        self.errorCorrection = errorCorrection
    }

    /// Modules per side.
    var size: Int { number * 4 + 17 }

    /// Centre coordinates of the alignment patterns along each axis (ISO/IEC 18004 Annex E):
    /// the first is always 6, the last size − 7, and the ones between are evenly spaced with
    /// an even step, the remainder going to the first gap.
    var alignmentPatternCenters: [Int] {
        guard number > 1 else { return [] }
        let count = number / 7 + 2
        let step = (number * 8 + count * 3 + 5) / (count * 4 - 4) * 2
        var centers = [6]
        for index in (0..<(count - 1)).reversed() {
            centers.append(size - 7 - index * step)
        }
        return centers
    }

    /// Modules left for codewords once every function pattern and the format and version
    /// information are placed; not always a multiple of 8 (the remainder bits stay light).
    var dataModuleCount: Int {
        var result = (16 * number + 128) * number + 64
        if number >= 2 {
            let alignmentCount = number / 7 + 2
            result -= (25 * alignmentCount - 10) * alignmentCount - 55
            if number >= 7 { result -= 36 }
        }
        return result
    }

    /// Data plus error-correction codewords.
    var totalCodewords: Int { dataModuleCount / 8 }

    var errorCorrectionCodewordsPerBlock: Int {
        Self.errorCorrectionCodewordsPerBlock[errorCorrection.tableIndex][number]
    }

    var blockCount: Int { Self.blockCounts[errorCorrection.tableIndex][number] }

    var dataCodewords: Int { totalCodewords - errorCorrectionCodewordsPerBlock * blockCount }

    /// Data codewords in each block, in order: the short blocks come first and the rest
    /// carry one more codeword (ISO/IEC 18004 Table 9).
    var dataCodewordsPerBlock: [Int] {
        let longBlocks = totalCodewords % blockCount
        let shortBlockData = totalCodewords / blockCount - errorCorrectionCodewordsPerBlock
        return (0..<blockCount).map { $0 < blockCount - longBlocks ? shortBlockData : shortBlockData + 1 }
    }

    /// Bits of the byte-mode character count indicator.
    var byteCountIndicatorWidth: Int { number <= 9 ? 8 : 16 }

    /// The largest byte-mode payload this version holds: 4 bits of mode, the count, then 8 bits a byte.
    var byteCapacity: Int {
        min((dataCodewords * 8 - 4 - byteCountIndicatorWidth) / 8, (1 << byteCountIndicatorWidth) - 1)
    }

    // ISO/IEC 18004 Table 9, indexed [level][version]; index 0 is unused. Levels in order L, M, Q, H.
    private static let errorCorrectionCodewordsPerBlock: [[Int]] = [
        [
            0, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28, 28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30,
            30, 30, 30, 30, 30, 30,
        ],
        [
            0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28,
            28, 28, 28, 28, 28, 28,
        ],
        [
            0, 13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30, 28, 30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30,
            30, 30, 30, 30, 30, 30,
        ],
        [
            0, 17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28, 30, 24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30,
            30, 30, 30, 30, 30, 30,
        ],
    ]

    private static let blockCounts: [[Int]] = [
        [0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8, 8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25],
        [
            0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43,
            45, 47, 49,
        ],
        [
            0, 1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20, 23, 23, 25, 27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56,
            59, 62, 65, 68,
        ],
        [
            0, 1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25, 25, 34, 30, 32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66,
            70, 74, 77, 81,
        ],
    ]
}

extension QRCode.ErrorCorrection {
    fileprivate var tableIndex: Int {
        switch self {
        case .low: 0
        case .medium: 1
        case .quartile: 2
        case .high: 3
        }
    }

    /// The two bits the format information carries for this level (ISO/IEC 18004 Table 12).
    var formatBits: UInt32 {
        switch self {
        case .low: 0b01
        case .medium: 0b00
        case .quartile: 0b11
        case .high: 0b10
        }
    }
}
