/// An append-only sequence of bits, most significant bit first, packed into bytes.
///
/// QR data segments are bit fields of odd widths (4-bit mode, 8/16-bit count), so the
/// encoder builds the message here before cutting it into codewords.
struct BitBuffer: Sendable {
    private(set) var bytes: [UInt8] = []
    private(set) var count = 0

    init(reservingCapacity bitCount: Int = 0) {
        bytes.reserveCapacity((bitCount + 7) / 8)
    }

    /// Appends the low `width` bits of `value`, highest first.
    mutating func append(_ value: UInt32, width: Int) {
        precondition(width >= 0 && width <= 32 && (width == 32 || value >> width == 0), "value does not fit in \(width) bits")
        for shift in stride(from: width - 1, through: 0, by: -1) {
            append(bit: (value >> shift) & 1 == 1)
        }
    }

    mutating func append(bit: Bool) {
        if count % 8 == 0 { bytes.append(0) }
        if bit { bytes[count / 8] |= 0x80 >> UInt8(count % 8) }
        count += 1
    }

    mutating func append<Bytes: Collection<UInt8>>(contentsOf data: Bytes) {
        if count % 8 == 0 {
            bytes.append(contentsOf: data)
            count += 8 * data.count
        } else {
            for byte in data { append(UInt32(byte), width: 8) }
        }
    }
}
