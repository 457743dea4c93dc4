/// The square grid of modules being built for one symbol, with the record of which
/// modules belong to function patterns (and so are never data nor masked).
struct ModuleMatrix: Sendable {
    let version: SymbolVersion
    let size: Int
    /// Row-major, `true` is dark.
    private(set) var modules: [Bool]
    private var isFunction: [Bool]

    /// A matrix holding every function pattern, with the format area reserved (drawn
    /// with mask 0 until `drawFormatInformation(mask:)` writes the real one).
    init(version: SymbolVersion) {
        self.version = version
        size = version.size
        modules = [Bool](repeating: false, count: size * size)
        isFunction = modules
        drawTimingPatterns()
        drawFinderPattern(centerX: 3, centerY: 3)
        drawFinderPattern(centerX: size - 4, centerY: 3)
        drawFinderPattern(centerX: 3, centerY: size - 4)
        drawAlignmentPatterns()
        drawFormatInformation(mask: 0)
        drawVersionInformation()
    }

    subscript(x: Int, y: Int) -> Bool {
        modules[y * size + x]
    }

    private mutating func setFunctionModule(x: Int, y: Int, dark: Bool) {
        modules[y * size + x] = dark
        isFunction[y * size + x] = true
    }

    // MARK: Function patterns (ISO/IEC 18004 §6.3)

    private mutating func drawTimingPatterns() {
        for i in 0..<size {
            setFunctionModule(x: 6, y: i, dark: i % 2 == 0)
            setFunctionModule(x: i, y: 6, dark: i % 2 == 0)
        }
    }

    /// A 7×7 finder with its one-module light separator, clipped at the symbol edge.
    private mutating func drawFinderPattern(centerX: Int, centerY: Int) {
        for dy in -4...4 {
            for dx in -4...4 {
                let x = centerX + dx, y = centerY + dy
                guard (0..<size).contains(x), (0..<size).contains(y) else { continue }
                let ring = max(abs(dx), abs(dy))  // 0...4: centre block, centre, light ring, dark ring, separator
                setFunctionModule(x: x, y: y, dark: ring != 2 && ring != 4)
            }
        }
    }

    /// 5×5 alignment patterns on every pair of centres except the three finder corners.
    private mutating func drawAlignmentPatterns() {
        let centers = version.alignmentPatternCenters
        let last = centers.count - 1
        for (i, x) in centers.enumerated() {
            for (j, y) in centers.enumerated() {
                if (i == 0 && j == 0) || (i == 0 && j == last) || (i == last && j == 0) { continue }
                for dy in -2...2 {
                    for dx in -2...2 {
                        setFunctionModule(x: x + dx, y: y + dy, dark: max(abs(dx), abs(dy)) != 1)
                    }
                }
            }
        }
    }

    // MARK: Format and version information (ISO/IEC 18004 §7.9, §7.10)

    /// Writes both copies of the 15-bit format word for this level and `mask`, and the dark module.
    mutating func drawFormatInformation(mask: Int) {
        let bits = Self.formatWord(errorCorrection: version.errorCorrection, mask: mask)
        func bit(_ i: Int) -> Bool { (bits >> i) & 1 == 1 }
        // Around the top-left finder: bits 0–7 down column 8, bits 8–14 leftwards along row 8.
        for i in 0...5 { setFunctionModule(x: 8, y: i, dark: bit(i)) }
        setFunctionModule(x: 8, y: 7, dark: bit(6))
        setFunctionModule(x: 8, y: 8, dark: bit(7))
        setFunctionModule(x: 7, y: 8, dark: bit(8))
        for i in 9..<15 { setFunctionModule(x: 14 - i, y: 8, dark: bit(i)) }
        // The copy split between the top-right and bottom-left finders.
        for i in 0..<8 { setFunctionModule(x: size - 1 - i, y: 8, dark: bit(i)) }
        for i in 8..<15 { setFunctionModule(x: 8, y: size - 15 + i, dark: bit(i)) }
        setFunctionModule(x: 8, y: size - 8, dark: true)
    }

    /// Level and mask protected by the BCH(15,5) code, then XORed with 0x5412 so it is never all light.
    static func formatWord(errorCorrection: QRCode.ErrorCorrection, mask: Int) -> UInt32 {
        let data = errorCorrection.formatBits << 3 | UInt32(mask)
        var remainder = data
        for _ in 0..<10 { remainder = (remainder << 1) ^ ((remainder >> 9) * 0x537) }
        return (data << 10 | remainder) ^ 0x5412
    }

    /// Version 7 and up carry their version twice, as 6×3 blocks beside the two far finders.
    private mutating func drawVersionInformation() {
        guard version.number >= 7 else { return }
        let bits = Self.versionWord(version.number)
        for i in 0..<18 {
            let dark = (bits >> i) & 1 == 1
            let long = size - 11 + i % 3, short = i / 3
            setFunctionModule(x: long, y: short, dark: dark)
            setFunctionModule(x: short, y: long, dark: dark)
        }
    }

    /// The 6-bit version protected by the BCH(18,6) code.
    static func versionWord(_ version: Int) -> UInt32 {
        var remainder = UInt32(version)
        for _ in 0..<12 { remainder = (remainder << 1) ^ ((remainder >> 11) * 0x1F25) }
        return UInt32(version) << 12 | remainder
    }

    // MARK: Data (ISO/IEC 18004 §7.7, §7.8)

    /// Places the codewords in the two-module-wide zigzag from the bottom-right corner,
    /// skipping function modules and the vertical timing column.
    mutating func placeCodewords(_ codewords: [UInt8]) {
        precondition(codewords.count == version.totalCodewords, "expected \(version.totalCodewords) codewords")
        let bitCount = codewords.count * 8
        var bitIndex = 0
        var right = size - 1
        while right >= 1 {
            if right == 6 { right = 5 }
            let upward = (right + 1) & 2 == 0
            for vertical in 0..<size {
                let y = upward ? size - 1 - vertical : vertical
                for x in stride(from: right, through: right - 1, by: -1)
                where !isFunction[y * size + x] && bitIndex < bitCount {
                    modules[y * size + x] = (codewords[bitIndex >> 3] >> (7 - UInt8(bitIndex & 7))) & 1 == 1
                    bitIndex += 1
                }
            }
            right -= 2
        }
    }

    /// XORs `mask` over every non-function module; applying it twice restores the matrix.
    mutating func applyMask(_ mask: Int) {
        precondition((0...7).contains(mask), "mask \(mask) out of 0...7")
        let size = size
        isFunction.withUnsafeBufferPointer { isFunction in
            modules.withUnsafeMutableBufferPointer { modules in
                for y in 0..<size {
                    for x in 0..<size {
                        let index = y * size + x
                        modules[index] = modules[index] != (Self.isMasked(x: x, y: y, by: mask) && !isFunction[index])
                    }
                }
            }
        }
    }

    /// The eight data mask patterns of ISO/IEC 18004 Table 10; x is the column, y the row.
    @inline(__always)
    static func isMasked(x: Int, y: Int, by mask: Int) -> Bool {
        switch mask {
        case 0: (x + y) % 2 == 0
        case 1: y % 2 == 0
        case 2: x % 3 == 0
        case 3: (x + y) % 3 == 0
        case 4: (x / 3 + y / 2) % 2 == 0
        case 5: x * y % 2 + x * y % 3 == 0
        case 6: (x * y % 2 + x * y % 3) % 2 == 0
        default: ((x + y) % 2 + x * y % 3) % 2 == 0
        }
    }
}
