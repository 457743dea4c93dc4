import CompressNIO
import NIOCore

extension QRCode {
    /// The symbol as a 1-bit greyscale PNG: each module `moduleSize` pixels square, surrounded
    /// by `quietZone` light modules (the standard asks for 4).
    public func png(moduleSize: Int = 8, quietZone: Int = 4) -> [UInt8] {
        precondition(moduleSize >= 1 && quietZone >= 0, "moduleSize must be ≥ 1 and quietZone ≥ 0")
        let side = (size + 2 * quietZone) * moduleSize
        return PNGWriter.grayscale1Bit(width: side, height: side, scanlines: scanlines(moduleSize: moduleSize, quietZone: quietZone))
    }

    /// `png(moduleSize:quietZone:)` as a `data:image/png;base64,...` URI for an `<img src>`.
    public func pngDataURI(moduleSize: Int = 8, quietZone: Int = 4) -> String {
        "data:image/png;base64," + Base64.encode(png(moduleSize: moduleSize, quietZone: quietZone))
    }

    /// PNG image data before compression: per row a filter type byte, then the pixels packed
    /// eight to a byte, 1 for a light pixel, 0 for a dark one. The first pixel row of each
    /// module row is stored as it is (filter 0); the `moduleSize − 1` copies below it use
    /// filter 2 ("Up", difference from the row above), which makes them all zero bytes, so
    /// deflate has almost nothing to search.
    private func scanlines(moduleSize: Int, quietZone: Int) -> [UInt8] {
        let modulesPerSide = size + 2 * quietZone
        let side = modulesPerSide * moduleSize
        let rowLength = 1 + (side + 7) / 8
        var result = [UInt8](repeating: 0, count: rowLength * side)
        var row = [UInt8](repeating: 0, count: rowLength)
        for moduleY in 0..<modulesPerSide {
            // Start all light, then clear the bits of the dark modules' pixels.
            for i in 1..<rowLength { row[i] = 0xFF }
            let y = moduleY - quietZone
            if (0..<size).contains(y) {
                for x in 0..<size where modules[y * size + x] {
                    let firstPixel = (x + quietZone) * moduleSize
                    for pixel in firstPixel..<firstPixel + moduleSize {
                        row[1 + pixel / 8] &= ~(0x80 >> UInt8(pixel % 8))
                    }
                }
            }
            let offset = moduleY * moduleSize * rowLength
            result.replaceSubrange(offset..<offset + rowLength, with: row)
            for repeatIndex in 1..<moduleSize {
                result[(moduleY * moduleSize + repeatIndex) * rowLength] = 2  // Up; the pixel bytes stay 0
            }
        }
        return result
    }
}

/// Writes the minimal PNG (ISO/IEC 15948): signature, IHDR, one IDAT, IEND.
enum PNGWriter {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    static func grayscale1Bit(width: Int, height: Int, scanlines: [UInt8]) -> [UInt8] {
        var header: [UInt8] = []
        header.appendBigEndian(UInt32(width))
        header.appendBigEndian(UInt32(height))
        header += [1, 0, 0, 0, 0]  // bit depth 1, greyscale, deflate, adaptive filtering, no interlace

        var file = signature
        appendChunk("IHDR", header, to: &file)
        appendChunk("IDAT", zlibCompress(scanlines), to: &file)
        appendChunk("IEND", [], to: &file)
        return file
    }

    private static func appendChunk(_ type: String, _ data: [UInt8], to file: inout [UInt8]) {
        file.appendBigEndian(UInt32(data.count))
        let typeAndData = Array(type.utf8) + data
        file += typeAndData
        file.appendBigEndian(CRC32.checksum(typeAndData))
    }

    /// A zlib stream (RFC 1950) of `data`, as IDAT requires.
    static func zlibCompress(_ data: [UInt8]) -> [UInt8] {
        var input = ByteBuffer(bytes: data)
        do {
            // Runs of one byte are all there is to find in these scanlines; the RLE strategy
            // finds them without walking deflate's hash chains (which runs make long).
            var output = try input.compress(with: .zlib(configuration: .init(strategy: .rle)))
            return output.readBytes(length: output.readableBytes) ?? []
        } catch {
            // zlib fails here only when it cannot allocate its state; uncompressed deflate
            // blocks still make a valid image, just a larger one.
            return zlibStored(data)
        }
    }

    /// A zlib stream of stored (uncompressed) deflate blocks, RFC 1950/1951.
    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var result: [UInt8] = [0x78, 0x01]
        var start = 0
        repeat {
            let length = min(65_535, data.count - start)
            let isFinal = start + length == data.count
            result.append(isFinal ? 1 : 0)
            result += [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8((~length >> 8) & 0xFF)]
            result += data[start..<start + length]
            start += length
        } while start < data.count
        result.appendBigEndian(adler32(data))
        return result
    }

    static func adler32(_ data: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in data {
            a = (a + UInt32(byte)) % 65_521
            b = (b + a) % 65_521
        }
        return b << 16 | a
    }
}

/// The CRC-32 of PNG chunks and zlib's gzip (polynomial 0xEDB88320, reflected).
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}

/// Standard base64 with padding (RFC 4648 §4), without pulling in Foundation.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var group = UInt32(0)
            for (offset, byte) in chunk.enumerated() { group |= UInt32(byte) << (16 - 8 * offset) }
            for position in 0..<4 {
                output.append(position <= chunk.count ? alphabet[Int(group >> (18 - 6 * position)) & 0x3F] : UInt8(ascii: "="))
            }
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }
}

extension [UInt8] {
    fileprivate mutating func appendBigEndian(_ value: UInt32) {
        append(contentsOf: [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)])
    }
}
