import BuzzBridgeCore

/// Writes JSON straight into bytes, for the responses that carry many messages.
///
/// It produces the bytes `JSONResponse.encoder` would (keys in sorted order, `/` unescaped)
/// without building an intermediate tree, which makes a page of messages several times cheaper to
/// write than with `JSONEncoder` (docs/benchmarks.md).
struct JSONWriter {
    private(set) var bytes: [UInt8] = []
    /// One entry per open object or array: whether it still has no member.
    private var isEmpty: [Bool] = []

    init(capacity: Int = 1024) {
        bytes.reserveCapacity(capacity)
    }

    mutating func object(_ body: (inout JSONWriter) -> Void) {
        open(UInt8(ascii: "{"))
        body(&self)
        close(UInt8(ascii: "}"))
    }

    mutating func array<Elements: Sequence>(_ elements: Elements, _ body: (inout JSONWriter, Elements.Element) -> Void) {
        open(UInt8(ascii: "["))
        for element in elements {
            separate()
            body(&self, element)
        }
        close(UInt8(ascii: "]"))
    }

    /// Starts a member of the enclosing object; its value comes next. Keys must be written in
    /// sorted order to match the rest of the API.
    mutating func key(_ name: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func value(_ string: String?) {
        guard var string else { return null() }
        bytes.append(UInt8(ascii: "\""))
        // Native strings are contiguous UTF-8; copy the runs between escapes in one go each.
        string.withUTF8 { utf8 in
            var runStart = 0
            for index in utf8.indices {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                appendEscaped(byte)
                runStart = index + 1
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// A timestamp in the API's ISO 8601 form, written without an intermediate String.
    mutating func value(_ timestamp: Timestamp?) {
        guard let timestamp else { return null() }
        bytes.append(UInt8(ascii: "\""))
        timestamp.appendISO8601(to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func value(_ bool: Bool) {
        literal(bool ? "true" : "false")
    }

    mutating func value(_ integer: Int) {
        if integer < 0 { bytes.append(UInt8(ascii: "-")) }
        let magnitude = integer.magnitude
        var divisor: UInt = 1
        while magnitude / divisor >= 10 { divisor *= 10 }
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: magnitude / divisor % 10))
            divisor /= 10
        }
    }

    mutating func null() {
        literal("null")
    }

    private mutating func literal(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    private mutating func appendEscaped(_ byte: UInt8) {
        bytes.append(UInt8(ascii: "\\"))
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(byte)
        case 0x0A: bytes.append(UInt8(ascii: "n"))
        case 0x0D: bytes.append(UInt8(ascii: "r"))
        case 0x09: bytes.append(UInt8(ascii: "t"))
        case 0x08: bytes.append(UInt8(ascii: "b"))
        case 0x0C: bytes.append(UInt8(ascii: "f"))
        default:
            let hex: StaticString = "0123456789abcdef"
            hex.withUTF8Buffer { digits in
                bytes.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
            }
        }
    }

    private mutating func open(_ bracket: UInt8) {
        bytes.append(bracket)
        isEmpty.append(true)
    }

    private mutating func close(_ bracket: UInt8) {
        isEmpty.removeLast()
        bytes.append(bracket)
    }

    private mutating func separate() {
        guard let last = isEmpty.indices.last else { return }
        if isEmpty[last] {
            isEmpty[last] = false
        } else {
            bytes.append(UInt8(ascii: ","))
        }
    }
}

/// A response payload that writes itself with ``JSONWriter`` instead of going through `Encodable`.
protocol JSONWritable: Sendable {
    func write(to json: inout JSONWriter)
}
