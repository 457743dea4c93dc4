import Crypto
import Foundation

/// Small files with real signatures (and, for images, real headers), padded with random bytes.
enum SampleMedia {
    static func random(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// A JPEG whose start-of-frame says `width` × `height`.
    static func jpeg(width: Int = 640, height: Int = 480, padding: Int = 5000) -> [UInt8] {
        var bytes: [UInt8] =
            [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10] + Array("JFIF".utf8) + [0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]
        bytes += [0xFF, 0xC0, 0x00, 0x11, 0x08, UInt8(height >> 8), UInt8(height & 0xFF), UInt8(width >> 8), UInt8(width & 0xFF)]
        bytes += [0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01]
        return bytes + random(padding) + [0xFF, 0xD9]
    }

    static func png(width: Int = 32, height: Int = 16) -> [UInt8] {
        func be32(_ value: Int) -> [UInt8] { [UInt8(value >> 24 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + be32(13) + Array("IHDR".utf8) + be32(width) + be32(height) + random(2000)
    }

    static func mp4(padding: Int = 8000) -> [UInt8] {
        [0x00, 0x00, 0x00, 0x18] + Array("ftypisom".utf8) + [0x00, 0x00, 0x02, 0x00] + Array("isomiso2".utf8) + random(padding)
    }

    static func oggOpus(padding: Int = 3000) -> [UInt8] {
        Array("OggS".utf8) + [0x00, 0x02] + random(20) + Array("OpusHead".utf8) + random(padding)
    }

    static func pdf(padding: Int = 4000) -> [UInt8] {
        Array("%PDF-1.7\n".utf8) + random(padding) + Array("\n%%EOF\n".utf8)
    }

    static func sha256Hex(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }
}
