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
                let (sum1, overflow1) = product[i + j].addingReportingOverflow(low)
                let (sum2, overflow2) = sum1.addingReportingOverflow(carry)
                product[i + j] = sum2
                carry = high &+ (overflow1 ? 1 : 0) &+ (overflow2 ? 1 : 0)
            }
            product[i + 4] = carry
        }
        // c < 2^253, so adding it to a 506-bit product stays within nine words.
        var carry: UInt64 = 0
        for index in 0..<9 {
            let addend = index < 4 ? c.words[index] : 0
            let (sum1, overflow1) = product[index].addingReportingOverflow(addend)
            let (sum2, overflow2) = sum1.addingReportingOverflow(carry)
            product[index] = sum2
            carry = (overflow1 ? 1 : 0) &+ (overflow2 ? 1 : 0)
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
                    let (d1, b1) = acc[index].subtractingReportingOverflow(order[index])
                    let (d2, b2) = d1.subtractingReportingOverflow(borrow)
                    difference[index] = d2
                    borrow = (b1 ? 1 : 0) | (b2 ? 1 : 0)
                }
                let keepDifference = borrow &- 1  // all ones when acc >= L
                for index in 0..<4 {
                    acc[index] = (difference[index] & keepDifference) | (acc[index] & ~keepDifference)
                }
            }
        }
        return acc
    }
}
