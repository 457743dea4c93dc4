import CompressNIO
import Foundation
import NIOCore
import Testing

@testable import QRCode

@Suite struct PNGTests {
    struct Chunk {
        let type: String
        let data: [UInt8]
        let storedCRC: UInt32
    }

    /// Bitwise CRC-32 (no table), written apart from the encoder's.
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 1 ? 0xEDB8_8320 : 0) }
        }
        return ~crc
    }

    static func bigEndian(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }

    static func chunks(of png: [UInt8]) throws -> [Chunk] {
        var result: [Chunk] = []
        var offset = 8
        while offset < png.count {
            try #require(offset + 12 <= png.count)
            let length = Int(bigEndian(png[offset..<offset + 4]))
            try #require(offset + 12 + length <= png.count)
            let type = String(decoding: png[offset + 4..<offset + 8], as: UTF8.self)
            let data = Array(png[offset + 8..<offset + 8 + length])
            result.append(Chunk(type: type, data: data, storedCRC: bigEndian(png[offset + 8 + length..<offset + 12 + length])))
            offset += 12 + length
        }
        return result
    }

    static func inflate(_ data: [UInt8]) throws -> [UInt8] {
        var input = ByteBuffer(bytes: data)
        var output = try input.decompress(with: .zlib())
        return output.readBytes(length: output.readableBytes) ?? []
    }

    @Test(arguments: [(8, 4), (1, 0), (3, 2), (5, 4)])
    func structure(moduleSize: Int, quietZone: Int) throws {
        let code = try QRCode(text: Payload.link, errorCorrection: .medium)
        let png = code.png(moduleSize: moduleSize, quietZone: quietZone)
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])

        let chunks = try Self.chunks(of: png)
        #expect(chunks.map(\.type) == ["IHDR", "IDAT", "IEND"])
        for chunk in chunks {
            #expect(chunk.storedCRC == Self.crc32(Array(chunk.type.utf8) + chunk.data), "\(chunk.type) CRC")
        }

        let side = (code.size + 2 * quietZone) * moduleSize
        let header = chunks[0].data
        #expect(header.count == 13)
        #expect(Self.bigEndian(header[0..<4]) == UInt32(side))
        #expect(Self.bigEndian(header[4..<8]) == UInt32(side))
        #expect(Array(header[8..<13]) == [1, 0, 0, 0, 0])  // 1-bit greyscale, no interlace
        #expect(chunks[2].data.isEmpty)

        // Every pixel of the inflated, unfiltered image matches its module (quiet zone light).
        let rowLength = 1 + (side + 7) / 8
        var pixels = try Self.inflate(chunks[1].data)
        try #require(pixels.count == rowLength * side)
        for py in 0..<side {
            switch pixels[py * rowLength] {
            case 0: break
            case 2 where py > 0:  // Up: add the byte above
                for i in 1..<rowLength { pixels[py * rowLength + i] &+= pixels[(py - 1) * rowLength + i] }
            case let filter:
                Issue.record("row \(py) uses filter type \(filter)")
                return
            }
            for px in 0..<side {
                let light = pixels[py * rowLength + 1 + px / 8] & (0x80 >> UInt8(px % 8)) != 0
                let x = px / moduleSize - quietZone, y = py / moduleSize - quietZone
                let dark = (0..<code.size).contains(x) && (0..<code.size).contains(y) && code[x, y]
                if light == dark {
                    Issue.record("pixel (\(px), \(py)) should be \(dark ? "dark" : "light")")
                    return
                }
            }
        }
    }

    @Test func dataURIIsBase64OfThePNG() throws {
        let code = try QRCode(text: Payload.pairing, errorCorrection: .low)
        let uri = code.pngDataURI(moduleSize: 4, quietZone: 4)
        let prefix = "data:image/png;base64,"
        try #require(uri.hasPrefix(prefix))
        let decoded = try #require(Data(base64Encoded: String(uri.dropFirst(prefix.count))))
        #expect(Array(decoded) == code.png(moduleSize: 4, quietZone: 4))
    }

    @Test(arguments: [0, 1, 2, 3, 4, 5, 57])
    func base64MatchesFoundation(length: Int) {
        let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 250) }
        #expect(Base64.encode(bytes) == Data(bytes).base64EncodedString())
    }

    /// The uncompressed fallback inflates back to its input, across the 65,535-byte block limit.
    @Test(arguments: [0, 1, 65_535, 65_536, 140_000])
    func storedZlibStreamRoundTrips(length: Int) throws {
        let data = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        #expect(try Self.inflate(PNGWriter.zlibStored(data)) == data)
    }

    @Test func crcMatchesKnownValue() {
        // The CRC-32 check value of "123456789".
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(Self.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
    }
}
