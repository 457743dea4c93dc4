/// An integer modulo L = 2^252 + 27742317777372353535851937790883648493, the order of the
/// Ed25519 base point, in four little-endian 64-bit words.
///
/// Reduction works one bit at a time with masked conditional subtraction: slower than
/// Barrett reduction but obviously constant time, and signing needs only a handful of them.
struct Scalar: Sendable {
    static let order: [UInt64] = [0x5812_631A_5CF5_D3ED, 0x14DE_F9DE_A2F7_9CD6, 0, 0x1000_0000_0000_0000]

    /// Always fully reduced below L.
    private(set) var words: [UInt64]

    private init(reducedWords: [UInt64]) {
        words = reducedWords
    }

    /// Reduces a little-endian byte string of any length (32 or 64 in practice) modulo L.
    init<Bytes: Collection<UInt8>>(reducing bytes: Bytes) {
        var wide = [UInt64](repeating: 0, count: (bytes.count + 7) / 8)
        for (index, byte) in bytes.enumerated() {
            wide[index / 8] |= UInt64(byte) << (8 * UInt64(index % 8))
        }
        self.init(reducedWords: Self.reduce(wide))
    }

    /// The 32-byte little-endian encoding.
    var bytes: [UInt8] {
        (0..<32).map { UInt8(truncatingIfNeeded: words[$0 / 8] >> (8 * UInt64($0 % 8))) }
    }

    /// (a * b + c) mod L.
    static func multiplyAdd(_ a: Scalar, _ b: Scalar, _ c: Scalar) -> Scalar {
        var product = [UInt64](repeating: 0, count: 9)
        for i in 0..<4 {
            var carry: UInt64 = 0
            for j in 0..<4 {
                let (high, low) = a.words[i].multipliedFullWidth(by: b.words[j])
                let (sum1, carry1) = addWithCarry(product[i + j], low, 0)
                let (sum2, carry2) = addWithCarry(sum1, carry, 0)
                product[i + j] = sum2
                carry = high &+ carry1 &+ carry2
            }
            product[i + 4] = carry
        }
        // c < 2^253, so adding it to a 506-bit product stays within nine words.
        var carry: UInt64 = 0
        for index in 0..<9 {
            let addend = index < 4 ? c.words[index] : 0
            (product[index], carry) = addWithCarry(product[index], addend, carry)
        }
        return Scalar(reducedWords: reduce(product))
    }

    /// Bit-serial reduction: acc = 2·acc + bit, then subtract L if acc ≥ L, under a mask.
    private static func reduce(_ wide: [UInt64]) -> [UInt64] {
        var acc: [UInt64] = [0, 0, 0, 0]
        for wordIndex in wide.indices.reversed() {
            let word = wide[wordIndex]
            for bit in (0..<64).reversed() {
                // acc < L < 2^253, so doubling it cannot leave four words.
                acc[3] = (acc[3] << 1) | (acc[2] >> 63)
                acc[2] = (acc[2] << 1) | (acc[1] >> 63)
                acc[1] = (acc[1] << 1) | (acc[0] >> 63)
                acc[0] = (acc[0] << 1) | ((word >> UInt64(bit)) & 1)
                var difference: [UInt64] = [0, 0, 0, 0]
                var borrow: UInt64 = 0
                for index in 0..<4 {
                    (difference[index], borrow) = subtractWithBorrow(acc[index], order[index], borrow)
                }
                let keepDifference = borrow &- 1  // all ones when acc >= L
                for index in 0..<4 {
                    acc[index] = (difference[index] & keepDifference) | (acc[index] & ~keepDifference)
                }
            }
        }
        return acc
    }

    /// a + b + carry (carry 0 or 1) and the carry out, taken from the top bits of the operands
    /// and the sum (Hacker's Delight 2-13) rather than from an overflow flag turned into an
    /// integer, which a compiler may do with a branch on secret data.
    @inline(__always)
    static func addWithCarry(_ a: UInt64, _ b: UInt64, _ carry: UInt64) -> (sum: UInt64, carry: UInt64) {
        let sum = a &+ b &+ carry
        return (sum, ((a & b) | ((a | b) & ~sum)) >> 63)
    }

    /// a − b − borrow (borrow 0 or 1) and the borrow out, computed the same way.
    @inline(__always)
    static func subtractWithBorrow(_ a: UInt64, _ b: UInt64, _ borrow: UInt64) -> (difference: UInt64, borrow: UInt64) {
        let difference = a &- b &- borrow
        return (difference, ((~a & b) | ((~a | b) & difference)) >> 63)
    }
}
