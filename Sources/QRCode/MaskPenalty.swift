/// The four penalty rules of ISO/IEC 18004 §7.8.3.1, which pick the data mask that leaves
/// the fewest patterns a reader could confuse with finders or lose track of.
///
/// The symbol is scored as it will be printed, format and version information included;
/// beyond the symbol edge counts as light (it is the quiet zone).
struct MaskPenalty: Sendable, Hashable {
    /// N1: 3 + (k − 5) for each row or column run of k ≥ 5 modules of one colour.
    var runs = 0
    /// N2: 3 for each 2×2 block of one colour (overlapping blocks all count).
    var blocks = 0
    /// N3: 40 for each dark-light-dark-dark-dark-light-dark run with 4 light modules on
    /// at least one side, in a row or a column.
    var finderLikePatterns = 0
    /// N4: 10 for each full 5 % step the dark proportion is away from 50 %.
    var balance = 0

    var total: Int { runs + blocks + finderLikePatterns + balance }

    init(runs: Int = 0, blocks: Int = 0, finderLikePatterns: Int = 0, balance: Int = 0) {
        self.runs = runs
        self.blocks = blocks
        self.finderLikePatterns = finderLikePatterns
        self.balance = balance
    }

    init(_ matrix: ModuleMatrix) {
        self.init(modules: matrix.modules, size: matrix.size)
    }

    /// Scores `size`×`size` row-major modules, `true` dark.
    init(modules: [Bool], size: Int) {
        precondition(modules.count == size * size, "expected \(size * size) modules")
        var line = [Bool](repeating: false, count: size)
        var darkCount = 0
        for y in 0..<size {
            for x in 0..<size {
                let dark = modules[y * size + x]
                if dark { darkCount += 1 }
                line[x] = dark
                if x > 0, y > 0,
                   dark == modules[y * size + x - 1],
                   dark == modules[(y - 1) * size + x],
                   dark == modules[(y - 1) * size + x - 1] {
                    blocks += 3
                }
            }
            score(line: line)
        }
        for x in 0..<size {
            for y in 0..<size { line[y] = modules[y * size + x] }
            score(line: line)
        }
        // Integer form of 10·⌊|dark/total·100 − 50| / 5⌋.
        let total = size * size
        balance = 10 * (abs(darkCount * 20 - total * 10) / total)
    }

    private mutating func score(line: [Bool]) {
        var runLength = 0
        for i in line.indices {
            if i > 0 && line[i] == line[i - 1] {
                runLength += 1
            } else {
                if runLength >= 5 { runs += runLength - 2 }
                runLength = 1
            }
        }
        if runLength >= 5 { runs += runLength - 2 }

        guard line.count >= 7 else { return }
        for start in 0...(line.count - 7) where Self.matchesFinderCore(line, at: start) {
            if Self.isLight(line, start - 4..<start) || Self.isLight(line, start + 7..<start + 11) {
                finderLikePatterns += 40
            }
        }
    }

    private static let finderCore: [Bool] = [true, false, true, true, true, false, true]

    private static func matchesFinderCore(_ line: [Bool], at start: Int) -> Bool {
        for i in 0..<7 where line[start + i] != finderCore[i] { return false }
        return true
    }

    private static func isLight(_ line: [Bool], _ range: Range<Int>) -> Bool {
        for i in range where i >= 0 && i < line.count && line[i] { return false }
        return true
    }
}
