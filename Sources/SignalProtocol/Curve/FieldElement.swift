/// An element of GF(2^255 - 19) in five 51-bit limbs (radix 2^51).
///
/// Every operation is branch-free on the values it handles, so the arithmetic can be used
/// with secret scalars. Limbs are kept below about 2^52 between operations; `mul` relies on it.
struct FieldElement: Sendable {
    private static let mask51: UInt64 = (1 << 51) - 1

    var limbs: (UInt64, UInt64, UInt64, UInt64, UInt64)

    init(_ l0: UInt64, _ l1: UInt64, _ l2: UInt64, _ l3: UInt64, _ l4: UInt64) {
        limbs = (l0, l1, l2, l3, l4)
    }

    static let zero = FieldElement(0, 0, 0, 0, 0)
    static let one = FieldElement(1, 0, 0, 0, 0)

    /// Reads 32 little-endian bytes, ignoring the top bit as RFC 7748 and RFC 8032 require.
    init<Bytes: Collection<UInt8>>(littleEndian bytes: Bytes) {
        precondition(bytes.count == 32, "a field element is 32 bytes")
        var words = [UInt64](repeating: 0, count: 4)
        for (index, byte) in bytes.enumerated() {
            words[index / 8] |= UInt64(byte) << (8 * UInt64(index % 8))
        }
        let mask = Self.mask51
        self.init(
            words[0] & mask,
            ((words[0] >> 51) | (words[1] << 13)) & mask,
            ((words[1] >> 38) | (words[2] << 26)) & mask,
            ((words[2] >> 25) | (words[3] << 39)) & mask,
            (words[3] >> 12) & mask
        )
    }

    init(_ small: UInt64) {
        self.init(small & Self.mask51, small >> 51, 0, 0, 0)
    }

    /// Propagates carries so every limb is below 2^51 (limb 0 may exceed it by a few bits).
    private static func carried(_ h: (UInt64, UInt64, UInt64, UInt64, UInt64)) -> FieldElement {
        var (h0, h1, h2, h3, h4) = h
        let mask = mask51
        h1 &+= h0 >> 51; h0 &= mask
        h2 &+= h1 >> 51; h1 &= mask
        h3 &+= h2 >> 51; h2 &= mask
        h4 &+= h3 >> 51; h3 &= mask
        h0 &+= 19 &* (h4 >> 51); h4 &= mask
        return FieldElement(h0, h1, h2, h3, h4)
    }

    static func + (a: FieldElement, b: FieldElement) -> FieldElement {
        carried(
            (
                a.limbs.0 &+ b.limbs.0, a.limbs.1 &+ b.limbs.1, a.limbs.2 &+ b.limbs.2,
                a.limbs.3 &+ b.limbs.3, a.limbs.4 &+ b.limbs.4
            ))
    }

    /// Adds 4p before subtracting so no limb can underflow for reduced inputs.
    static func - (a: FieldElement, b: FieldElement) -> FieldElement {
        let fourP0: UInt64 = 0x1F_FFFF_FFFF_FFB4  // 4 * (2^51 - 19)
        let fourP: UInt64 = 0x1F_FFFF_FFFF_FFFC  // 4 * (2^51 - 1)
        return carried(
            (
                a.limbs.0 &+ fourP0 &- b.limbs.0, a.limbs.1 &+ fourP &- b.limbs.1,
                a.limbs.2 &+ fourP &- b.limbs.2, a.limbs.3 &+ fourP &- b.limbs.3,
                a.limbs.4 &+ fourP &- b.limbs.4
            ))
    }

    static prefix func - (a: FieldElement) -> FieldElement {
        zero - a
    }

    static func * (a: FieldElement, b: FieldElement) -> FieldElement {
        @inline(__always) func m(_ x: UInt64, _ y: UInt64) -> UInt128 { UInt128(x) &* UInt128(y) }
        let (a0, a1, a2, a3, a4) = a.limbs
        let (b0, b1, b2, b3, b4) = b.limbs
        // 2^255 = 19 (mod p): limbs that spill past 2^255 come back multiplied by 19.
        let b1x19 = b1 &* 19, b2x19 = b2 &* 19, b3x19 = b3 &* 19, b4x19 = b4 &* 19
        var r0 = m(a0, b0) &+ m(a1, b4x19) &+ m(a2, b3x19) &+ m(a3, b2x19) &+ m(a4, b1x19)
        var r1 = m(a0, b1) &+ m(a1, b0) &+ m(a2, b4x19) &+ m(a3, b3x19) &+ m(a4, b2x19)
        var r2 = m(a0, b2) &+ m(a1, b1) &+ m(a2, b0) &+ m(a3, b4x19) &+ m(a4, b3x19)
        var r3 = m(a0, b3) &+ m(a1, b2) &+ m(a2, b1) &+ m(a3, b0) &+ m(a4, b4x19)
        var r4 = m(a0, b4) &+ m(a1, b3) &+ m(a2, b2) &+ m(a3, b1) &+ m(a4, b0)
        let mask = UInt128(mask51)
        r1 &+= r0 >> 51; r0 &= mask
        r2 &+= r1 >> 51; r1 &= mask
        r3 &+= r2 >> 51; r2 &= mask
        r4 &+= r3 >> 51; r3 &= mask
        r0 &+= (r4 >> 51) &* 19; r4 &= mask
        r1 &+= r0 >> 51; r0 &= mask
        return FieldElement(UInt64(r0), UInt64(r1), UInt64(r2), UInt64(r3), UInt64(r4))
    }

    var squared: FieldElement { self * self }

    /// self^(2^count), by repeated squaring.
    private func squared(times count: Int) -> FieldElement {
        var result = self
        for _ in 0..<count { result = result.squared }
        return result
    }

    /// self^(2^250 - 1) and self^11, the shared prefix of the two exponentiation chains
    /// below (the addition chain from the Ed25519 reference code: 254 squarings, 11 products).
    private var chainPrefix: (power250: FieldElement, power11: FieldElement) {
        let z2 = squared
        let z9 = self * z2.squared(times: 2)
        let z11 = z2 * z9
        let z5_0 = z9 * z11.squared  // 2^5 - 1
        let z10_0 = z5_0.squared(times: 5) * z5_0  // 2^10 - 1
        let z20_0 = z10_0.squared(times: 10) * z10_0  // 2^20 - 1
        let z40_0 = z20_0.squared(times: 20) * z20_0  // 2^40 - 1
        let z50_0 = z40_0.squared(times: 10) * z10_0  // 2^50 - 1
        let z100_0 = z50_0.squared(times: 50) * z50_0  // 2^100 - 1
        let z200_0 = z100_0.squared(times: 100) * z100_0  // 2^200 - 1
        let z250_0 = z200_0.squared(times: 50) * z50_0  // 2^250 - 1
        return (z250_0, z11)
    }

    /// The multiplicative inverse, self^(p-2) = self^(2^255 - 21); zero maps to zero.
    var inverse: FieldElement {
        let (power250, power11) = chainPrefix
        return power250.squared(times: 5) * power11
    }

    /// self^((p-5)/8) = self^(2^252 - 3), the core of the square root in point decompression.
    var powP58: FieldElement {
        chainPrefix.power250.squared(times: 2) * self
    }

    /// The canonical 32-byte little-endian encoding (fully reduced below p).
    var bytes: [UInt8] {
        // Two carry passes leave the value below 2^255 + 19 with limbs below 2^51.
        let reduced = Self.carried(Self.carried(limbs).limbs)
        var (h0, h1, h2, h3, h4) = reduced.limbs
        // Subtract p when the value is at least p: h - p = h + 19 - 2^255.
        var t0 = h0 &+ 19
        var t1 = h1 &+ (t0 >> 51); t0 &= Self.mask51
        var t2 = h2 &+ (t1 >> 51); t1 &= Self.mask51
        var t3 = h3 &+ (t2 >> 51); t2 &= Self.mask51
        var t4 = h4 &+ (t3 >> 51); t3 &= Self.mask51
        let select = 0 &- (t4 >> 51)  // all ones when h >= p
        t4 &= Self.mask51
        h0 = (t0 & select) | (h0 & ~select)
        h1 = (t1 & select) | (h1 & ~select)
        h2 = (t2 & select) | (h2 & ~select)
        h3 = (t3 & select) | (h3 & ~select)
        h4 = (t4 & select) | (h4 & ~select)
        let words = [h0 | (h1 << 51), (h1 >> 13) | (h2 << 38), (h2 >> 26) | (h3 << 25), (h3 >> 39) | (h4 << 12)]
        var out = [UInt8](repeating: 0, count: 32)
        for index in 0..<32 {
            out[index] = UInt8(truncatingIfNeeded: words[index / 8] >> (8 * UInt64(index % 8)))
        }
        return out
    }

    /// Whether the canonical encoding is odd: the "sign" of x in RFC 8032 point encoding.
    var isNegative: Bool { bytes[0] & 1 == 1 }

    var isZero: Bool { bytes.reduce(0, |) == 0 }

    /// `b` when `choice` is 1, `a` when it is 0, without branching.
    static func select(_ a: FieldElement, _ b: FieldElement, choice: UInt64) -> FieldElement {
        let mask = 0 &- choice
        return FieldElement(
            (a.limbs.0 & ~mask) | (b.limbs.0 & mask),
            (a.limbs.1 & ~mask) | (b.limbs.1 & mask),
            (a.limbs.2 & ~mask) | (b.limbs.2 & mask),
            (a.limbs.3 & ~mask) | (b.limbs.3 & mask),
            (a.limbs.4 & ~mask) | (b.limbs.4 & mask)
        )
    }

    /// Equality of the canonical encodings, compared without an early exit.
    static func equal(_ a: FieldElement, _ b: FieldElement) -> Bool {
        zip(a.bytes, b.bytes).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
