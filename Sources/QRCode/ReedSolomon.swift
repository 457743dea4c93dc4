/// Arithmetic in GF(2⁸) with the QR field polynomial x⁸ + x⁴ + x³ + x² + 1 (0x11D).
enum GaloisField {
    /// exp[i] = αⁱ for i in 0..<510, doubled so a sum of two logarithms needs no modulo.
    static let exp: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 510)
        var value = 1
        for i in 0..<255 {
            table[i] = UInt8(value)
            table[i + 255] = UInt8(value)
            value <<= 1
            if value & 0x100 != 0 { value ^= 0x11D }
        }
        return table
    }()

    /// log[x] = i such that αⁱ = x; log[0] is unused.
    static let log: [Int] = {
        var table = [Int](repeating: 0, count: 256)
        for i in 0..<255 { table[Int(exp[i])] = i }
        return table
    }()

    static func multiply(_ a: UInt8, _ b: UInt8) -> UInt8 {
        if a == 0 || b == 0 { return 0 }
        return exp[log[Int(a)] + log[Int(b)]]
    }
}

/// Computes Reed–Solomon error-correction codewords for one block (ISO/IEC 18004 §7.5.2).
struct ReedSolomonEncoder: Sendable {
    /// Coefficients of the monic generator polynomial ∏(x − αⁱ), i in 0..<degree,
    /// highest power first, without the leading 1.
    let generator: [UInt8]

    init(degree: Int) {
        precondition((1...254).contains(degree), "Reed–Solomon degree \(degree) out of range")
        // Start from the polynomial 1 and multiply in one (x − αⁱ) factor at a time.
        var coefficients = [UInt8](repeating: 0, count: degree)
        coefficients[degree - 1] = 1
        var root: UInt8 = 1
        for _ in 0..<degree {
            for j in 0..<degree {
                coefficients[j] = GaloisField.multiply(coefficients[j], root)
                if j + 1 < degree { coefficients[j] ^= coefficients[j + 1] }
            }
            root = GaloisField.multiply(root, 2)
        }
        generator = coefficients
    }

    var degree: Int { generator.count }

    /// The remainder of data(x)·x^degree divided by the generator: the EC codewords.
    func remainder<Data: Collection<UInt8>>(of data: Data) -> [UInt8] {
        let exp = GaloisField.exp, log = GaloisField.log
        let generatorLogs = generator.map { log[Int($0)] }  // no generator coefficient is 0
        var result = [UInt8](repeating: 0, count: degree)
        for byte in data {
            let factor = byte ^ result[0]
            result.removeFirst()
            result.append(0)
            if factor == 0 { continue }
            let factorLog = log[Int(factor)]
            for i in 0..<degree {
                result[i] ^= exp[generatorLogs[i] + factorLog]
            }
        }
        return result
    }
}
