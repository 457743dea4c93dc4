import BuzzBridgeCore

/// What a file is, from its first bytes (magic numbers), and an image's size from its header:
/// a declared `mime_type` is checked against it, so that a client cannot send a PDF labelled
/// as a JPEG.
struct MediaSniffer {
    /// Enough of a file's start for every signature and header below.
    static let headerLength = 64 * 1024

    struct Sniffed: Equatable {
        var mimeType: String
        var width: Int?
        var height: Int?
    }

    /// The mime types each message type accepts, as WhatsApp's clients send and show them.
    static let accepted: [MessageType: Set<String>] = [
        .image: ["image/jpeg", "image/png", "image/webp"],
        .video: ["video/mp4", "video/3gpp", "video/quicktime"],
        .audio: ["audio/ogg", "audio/mpeg", "audio/mp4", "audio/aac", "audio/amr"],
    ]

    /// Declared types that name the same format as the sniffed one.
    static let aliases: [String: String] = [
        "image/jpg": "image/jpeg", "audio/opus": "audio/ogg", "application/ogg": "audio/ogg", "audio/mp3": "audio/mpeg",
        "audio/x-m4a": "audio/mp4", "audio/m4a": "audio/mp4", "video/x-m4v": "video/mp4", "audio/x-wav": "audio/wav",
    ]

    static func sniff(_ bytes: [UInt8]) -> Sniffed? {
        func starts(_ signature: [UInt8], at offset: Int = 0) -> Bool {
            bytes.count >= offset + signature.count && Array(bytes[offset..<offset + signature.count]) == signature
        }
        if starts([0xFF, 0xD8, 0xFF]) {
            let size = jpegSize(bytes)
            return Sniffed(mimeType: "image/jpeg", width: size?.0, height: size?.1)
        }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            let width = bytes.count >= 24 ? bigEndian(bytes, 16, 4) : nil
            let height = bytes.count >= 24 ? bigEndian(bytes, 20, 4) : nil
            return Sniffed(mimeType: "image/png", width: width, height: height)
        }
        if starts(Array("RIFF".utf8)), starts(Array("WEBP".utf8), at: 8) {
            let size = webpSize(bytes)
            return Sniffed(mimeType: "image/webp", width: size?.0, height: size?.1)
        }
        if starts(Array("RIFF".utf8)), starts(Array("WAVE".utf8), at: 8) { return Sniffed(mimeType: "audio/wav") }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return Sniffed(mimeType: "image/gif") }
        if starts(Array("ftyp".utf8), at: 4) {
            let brand = bytes.count >= 12 ? String(decoding: bytes[8..<12], as: UTF8.self) : ""
            switch brand {
            case "M4A ", "M4B ": return Sniffed(mimeType: "audio/mp4")
            case "qt  ": return Sniffed(mimeType: "video/quicktime")
            case let brand where brand.hasPrefix("3gp") || brand.hasPrefix("3g2"): return Sniffed(mimeType: "video/3gpp")
            default: return Sniffed(mimeType: "video/mp4")
            }
        }
        if starts(Array("OggS".utf8)) { return Sniffed(mimeType: "audio/ogg") }
        if starts(Array("%PDF-".utf8)) { return Sniffed(mimeType: "application/pdf") }
        if starts(Array("ID3".utf8)) || (bytes.count >= 2 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0 && bytes[1] & 0x06 != 0) {
            return Sniffed(mimeType: "audio/mpeg")
        }
        if starts(Array("#!AMR".utf8)) { return Sniffed(mimeType: "audio/amr") }
        if bytes.count >= 2, bytes[0] == 0xFF, bytes[1] & 0xF6 == 0xF0 { return Sniffed(mimeType: "audio/aac") }
        if starts([0x50, 0x4B, 0x03, 0x04]) { return Sniffed(mimeType: "application/zip") }
        return nil
    }

    /// Office documents are zip files: a declared OOXML/ODF type is taken as that zip.
    static func matches(declared: String, sniffed: String) -> Bool {
        let declared = aliases[declared] ?? declared
        if declared == sniffed { return true }
        if sniffed == "application/zip" {
            return declared.hasPrefix("application/vnd.openxmlformats-officedocument.") || declared.hasPrefix("application/vnd.oasis.opendocument.")
                || declared == "application/epub+zip" || declared == "application/x-zip-compressed"
        }
        return false
    }

    /// `type/subtype` in lower case, parameters (`; codecs=opus`) dropped.
    static func essence(of mimeType: String) -> String {
        String(mimeType.split(separator: ";", maxSplits: 1).first ?? "").trimmingCharacters(in: .whitespaces).lowercased()
    }

    private static func bigEndian(_ bytes: [UInt8], _ offset: Int, _ count: Int) -> Int {
        bytes[offset..<offset + count].reduce(0) { $0 << 8 | Int($1) }
    }

    private static func littleEndian(_ bytes: [UInt8], _ offset: Int, _ count: Int) -> Int {
        bytes[offset..<offset + count].reversed().reduce(0) { $0 << 8 | Int($1) }
    }

    /// The first start-of-frame marker's height and width.
    private static func jpegSize(_ bytes: [UInt8]) -> (Int, Int)? {
        var offset = 2
        while offset + 9 < bytes.count {
            guard bytes[offset] == 0xFF else { return nil }
            let marker = bytes[offset + 1]
            if marker == 0xFF { offset += 1; continue }
            let length = bigEndian(bytes, offset + 2, 2)
            // SOF0…SOF15 except DHT (C4), JPG (C8) and DAC (CC).
            if (0xC0...0xCF).contains(marker), ![0xC4, 0xC8, 0xCC].contains(marker) {
                return (bigEndian(bytes, offset + 7, 2), bigEndian(bytes, offset + 5, 2))
            }
            offset += 2 + length
        }
        return nil
    }

    private static func webpSize(_ bytes: [UInt8]) -> (Int, Int)? {
        guard bytes.count >= 30 else { return nil }
        switch String(decoding: bytes[12..<16], as: UTF8.self) {
        case "VP8X": return (littleEndian(bytes, 24, 3) + 1, littleEndian(bytes, 27, 3) + 1)
        case "VP8 ": return (littleEndian(bytes, 26, 2) & 0x3FFF, littleEndian(bytes, 28, 2) & 0x3FFF)
        case "VP8L":
            let bits = littleEndian(bytes, 21, 4)
            return ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
        default: return nil
        }
    }
}
