/// A point on the twisted Edwards curve -x^2 + y^2 = 1 + d·x^2·y^2 (edwards25519) in
/// extended coordinates (X:Y:Z:T) with x = X/Z, y = Y/Z and x·y = T/Z.
///
/// Addition uses the complete formulas of Hisil–Wong–Carter–Dawson, so the same code path
/// handles doubling and the identity: nothing branches on the points themselves.
struct EdwardsPoint: Sendable {
    var x: FieldElement
    var y: FieldElement
    var z: FieldElement
    var t: FieldElement

    /// d = -121665 / 121666.
    static let d: FieldElement = -(FieldElement(121_665) * FieldElement(121_666).inverse)
    static let twoD: FieldElement = d + d
    /// A square root of -1: 2^((p-1)/4).
    static let sqrtMinusOne: FieldElement = {
        // (p-1)/4 = 2^253 - 5
        var result = FieldElement.one
        let two = FieldElement(2)
        let exponent: [UInt64] = [0xFFFF_FFFF_FFFF_FFFB, 0xFFFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFF, 0x1FFF_FFFF_FFFF_FFFF]
        for word in exponent.reversed() {
            for bit in (0..<64).reversed() {
                result = result.squared
                if (word >> UInt64(bit)) & 1 == 1 { result = result * two }
            }
        }
        return result
    }()

    static let identity = EdwardsPoint(x: .zero, y: .one, z: .one, t: .zero)

    /// The RFC 8032 base point B, whose y is 4/5 and x is even.
    static let basePoint: EdwardsPoint = {
        let y = FieldElement(4) * FieldElement(5).inverse
        return EdwardsPoint(y: y, xIsNegative: false)!
    }()

    init(x: FieldElement, y: FieldElement, z: FieldElement, t: FieldElement) {
        self.x = x
        self.y = y
        self.z = z
        self.t = t
    }

    /// Recovers x from y and its sign; nil when y is not the y-coordinate of a curve point.
    init?(y: FieldElement, xIsNegative: Bool) {
        // x^2 = (y^2 - 1) / (d·y^2 + 1); take the root as u·v^3·(u·v^7)^((p-5)/8).
        let ySquared = y.squared
        let u = ySquared - .one
        let v = Self.d * ySquared + .one
        let v3 = v.squared * v
        let v7 = v3.squared * v
        var x = u * v3 * (u * v7).powP58
        let check = v * x.squared
        if FieldElement.equal(check, u) {
            // x is a root already.
        } else if FieldElement.equal(check, -u) {
            x = x * Self.sqrtMinusOne
        } else {
            return nil
        }
        if x.isZero && xIsNegative { return nil }
        if x.isNegative != xIsNegative { x = -x }
        self.init(x: x, y: y, z: .one, t: x * y)
    }

    /// Decodes the 32-byte RFC 8032 encoding (y with the sign of x in the top bit).
    init?<Bytes: Collection<UInt8>>(encoded bytes: Bytes) {
        guard bytes.count == 32 else { return nil }
        let array = Array(bytes)
        self.init(y: FieldElement(littleEndian: array), xIsNegative: array[31] & 0x80 != 0)
    }

    /// The 32-byte RFC 8032 encoding.
    var encoded: [UInt8] {
        let zInverse = z.inverse
        var out = (y * zInverse).bytes
        if (x * zInverse).isNegative { out[31] |= 0x80 }
        return out
    }

    static func + (p: EdwardsPoint, q: EdwardsPoint) -> EdwardsPoint {
        let a = (p.y - p.x) * (q.y - q.x)
        let b = (p.y + p.x) * (q.y + q.x)
        let c = p.t * twoD * q.t
        let zz = p.z * q.z
        let d = zz + zz
        let e = b - a, f = d - c, g = d + c, h = b + a
        return EdwardsPoint(x: e * f, y: g * h, z: f * g, t: e * h)
    }

    static prefix func - (p: EdwardsPoint) -> EdwardsPoint {
        EdwardsPoint(x: -p.x, y: p.y, z: p.z, t: -p.t)
    }

    /// Doubling with dbl-2008-hwcd for a = -1; cheaper than the general addition.
    var doubled: EdwardsPoint {
        let a = x.squared
        let b = y.squared
        let zz = z.squared
        let c = zz + zz
        let e = (x + y).squared - a - b
        let g = b - a  // a·X^2 + Y^2 with a = -1
        let f = g - c
        let h = .zero - a - b  // a·X^2 - Y^2
        return EdwardsPoint(x: e * f, y: g * h, z: f * g, t: e * h)
    }

    static func select(_ a: EdwardsPoint, _ b: EdwardsPoint, choice: UInt64) -> EdwardsPoint {
        EdwardsPoint(
            x: .select(a.x, b.x, choice: choice), y: .select(a.y, b.y, choice: choice),
            z: .select(a.z, b.z, choice: choice), t: .select(a.t, b.t, choice: choice)
        )
    }

    /// scalar·self for a secret 256-bit little-endian scalar: double-and-add-always with a
    /// masked selection, so the sequence of operations never depends on the scalar's bits.
    func multiplied(bySecret scalar: [UInt8]) -> EdwardsPoint {
        precondition(scalar.count == 32)
        var result = EdwardsPoint.identity
        for index in (0..<256).reversed() {
            result = result.doubled
            let bit = UInt64((scalar[index / 8] >> UInt8(index % 8)) & 1)
            result = .select(result, result + self, choice: bit)
        }
        return result
    }

    /// scalar·self for public scalars (verification): 4-bit fixed windows, skipping zero
    /// digits, so its timing depends on the scalar.
    func multiplied(byPublic scalar: [UInt8]) -> EdwardsPoint {
        precondition(scalar.count == 32)
        var multiples = [EdwardsPoint.identity]
        for _ in 1..<16 { multiples.append(multiples[multiples.count - 1] + self) }
        var result = EdwardsPoint.identity
        for index in (0..<64).reversed() {
            result = result.doubled.doubled.doubled.doubled
            let digit = Self.nibble(scalar, index)
            if digit != 0 { result = result + multiples[Int(digit)] }
        }
        return result
    }

    /// j·16^i·B for i in 0..<64 and j in 0..<16: with it a base-point multiple is 64 additions
    /// and no doublings. About 160 KB, computed once on first use.
    private static let baseTable: [[EdwardsPoint]] = {
        var table: [[EdwardsPoint]] = []
        var power = basePoint
        for _ in 0..<64 {
            var row = [identity]
            for _ in 1..<16 { row.append(row[row.count - 1] + power) }
            power = row[15] + power
            table.append(row)
        }
        return table
    }()

    /// scalar·B for a secret scalar: every table entry of each row is read and masked in, so
    /// neither the operations nor the memory accessed depend on the scalar.
    static func baseMultiple(secret scalar: [UInt8]) -> EdwardsPoint {
        precondition(scalar.count == 32)
        var result = identity
        for index in 0..<64 {
            let digit = nibble(scalar, index)
            var chosen = identity
            for (candidate, point) in baseTable[index].enumerated() {
                let difference = UInt64(candidate) ^ digit
                let isDigit = ((difference | (0 &- difference)) >> 63) ^ 1
                chosen = select(chosen, point, choice: isDigit)
            }
            result = result + chosen
        }
        return result
    }

    /// scalar·B for a public scalar, indexing the table directly.
    static func baseMultiple(public scalar: [UInt8]) -> EdwardsPoint {
        precondition(scalar.count == 32)
        var result = identity
        for index in 0..<64 {
            result = result + baseTable[index][Int(nibble(scalar, index))]
        }
        return result
    }

    /// The index-th 4-bit digit of a little-endian scalar.
    private static func nibble(_ scalar: [UInt8], _ index: Int) -> UInt64 {
        UInt64((scalar[index / 2] >> UInt8(4 * (index % 2))) & 0x0F)
    }
}
