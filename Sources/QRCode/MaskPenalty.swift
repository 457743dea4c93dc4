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
    ///
    /// Runs once per mask candidate, so the loops are kept free of data-dependent branches
    /// (on a masked, near-random symbol those mispredict about half the time).
    init(modules: [Bool], size: Int) {
        precondition(modules.count == size * size, "expected \(size * size) modules")
        var column = [Bool](repeating: false, count: size)
        var darkCount = 0
        modules.withUnsafeBufferPointer { grid in
            for y in 0..<size {
                let row = UnsafeBufferPointer(rebasing: grid[y * size..<(y + 1) * size])
                score(line: row)
                for x in 0..<size { darkCount &+= row[x].bit }
                guard y > 0 else { continue }
                let above = UnsafeBufferPointer(rebasing: grid[(y - 1) * size..<y * size])
                for x in 1..<size {
                    let a = row[x].bit, b = row[x - 1].bit, c = above[x].bit, d = above[x - 1].bit
                    blocks &+= 3 &* (1 &- ((a ^ b) | (a ^ c) | (a ^ d)))
                }
            }
            column.withUnsafeMutableBufferPointer { column in
                for x in 0..<size {
                    for y in 0..<size { column[y] = grid[y * size + x] }
                    score(line: UnsafeBufferPointer(column))
                }
            }
        }
        // Integer form of 10·⌊|dark/total·100 − 50| / 5⌋.
        let total = size * size
        balance = 10 * (abs(darkCount * 20 - total * 10) / total)
    }

    private mutating func score(line: UnsafeBufferPointer<Bool>) {
        // N1: a run's penalty is added when the next module differs (and at the end).
        var runLength = 1
        for i in 1..<line.count {
            let same = (line[i] == line[i - 1]).bit
            runs &+= (1 &- same) &* (runLength >= 5 ? runLength &- 2 : 0)
            runLength = runLength &* same &+ 1
        }
        runs &+= runLength >= 5 ? runLength &- 2 : 0

        // N3: the last 15 modules as bits, newest lowest, with light before the line and
        // 4 light modules pushed after it. An occurrence with light on both sides matches
        // both 11-bit windows, so it is subtracted once.
        let lightBefore = 0b0000_1011101, lightAfter = 0b1011101_0000, lightAround = 0b0000_1011101_0000
        var window = 0
        var occurrences = 0
        for i in 0..<(line.count + 4) {
            window = (window << 1 | (i < line.count ? line[i].bit : 0)) & 0x7FFF
            let last11 = window & 0x7FF
            occurrences &+= (last11 == lightBefore).bit &+ (last11 == lightAfter).bit &- (window == lightAround).bit
        }
        finderLikePatterns &+= 40 &* occurrences
    }
}

extension Bool {
    /// 1 or 0, for arithmetic in place of branches.
    fileprivate var bit: Int { self ? 1 : 0 }
}
