import CompressNIO
import Foundation
import NIOCore

/// Reads `BinaryNode`s from WhatsApp's binary format.
public struct BinaryDecoder: Sendable {
    public enum Failure: Error, Equatable, Sendable {
        case unexpectedEnd
        case invalidTag(UInt8, offset: Int)
        case invalidToken(UInt8, offset: Int)
        case invalidPackedValue(UInt8, offset: Int)
        case invalidNode(offset: Int)
        case invalidJID(offset: Int)
        case trailingBytes(Int)
        case emptyFrame
        case decompressionFailed
    }

    public init() {}

    /// Decodes exactly one node filling `data`.
    public func decode(_ data: Data) throws(Failure) -> BinaryNode {
        var reader = Reader(bytes: [UInt8](data))
        let node = try reader.readNode()
        guard reader.offset == reader.bytes.count else { throw .trailingBytes(reader.bytes.count - reader.offset) }
        return node
    }

    /// Decodes a decrypted frame: a flag byte (bit 2 = zlib-compressed), then one node.
    public func decodeFrame(_ frame: Data) throws(Failure) -> BinaryNode {
        try decode(Self.unpack(frame))
    }

    /// The node bytes of a decrypted frame, inflated when its flag byte says so.
    public static func unpack(_ frame: Data) throws(Failure) -> Data {
        guard let flags = frame.first else { throw .emptyFrame }
        let body = frame.dropFirst()
        guard flags & 2 != 0 else { return Data(body) }
        do {
            var compressed = ByteBuffer(bytes: body)
            var inflated = try compressed.decompress(with: .zlib(), maxSize: 1 << 26)
            return Data(inflated.readBytes(length: inflated.readableBytes) ?? [])
        } catch {
            throw .decompressionFailed
        }
    }
}

private struct Reader {
    let bytes: [UInt8]
    var offset = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    /// A value read where the format allows any of its encodings.
    enum Value {
        case empty
        case nodes([BinaryNode])
        case bytes([UInt8])
        case string(String)
        case jid(JID)
    }

    mutating func readNode() throws(BinaryDecoder.Failure) -> BinaryNode {
        let start = offset
        let size = try readListSize(readByte())
        guard size > 0, case .string(let tag) = try readValue(asString: true), !tag.isEmpty else {
            throw .invalidNode(offset: start)
        }
        var attributes = BinaryNode.Attributes()
        for _ in 0..<((size - 1) / 2) {
            let keyOffset = offset
            guard case .string(let key) = try readValue(asString: true) else { throw .invalidNode(offset: keyOffset) }
            switch try readValue(asString: true) {
            case .string(let string): attributes[key] = .string(string)
            case .jid(let jid): attributes[key] = .jid(jid)
            // LIST_EMPTY as a value: an attribute that is present but has no value.
            case .empty: attributes[key] = .string("")
            case .nodes, .bytes: throw .invalidNode(offset: keyOffset)
            }
        }
        guard size % 2 == 0 else { return BinaryNode(tag: tag, attributes: attributes) }
        // An even size means content is present: LIST_EMPTY there is an empty child list.
        let content: BinaryNode.Content =
            switch try readValue(asString: false) {
            case .empty: .nodes([])
            case .nodes(let nodes): .nodes(nodes)
            case .bytes(let bytes): .bytes(Data(bytes))
            case .string(let string): .string(string)
            case .jid(let jid): .jid(jid)
            }
        return BinaryNode(tag: tag, attributes: attributes, content: content)
    }

    mutating func readValue(asString: Bool) throws(BinaryDecoder.Failure) -> Value {
        let tagOffset = offset
        let tag = try readByte()
        switch tag {
        case WireTag.listEmpty:
            return .empty
        case WireTag.list8, WireTag.list16:
            let count = try readListSize(tag)
            var nodes: [BinaryNode] = []
            nodes.reserveCapacity(count)
            for _ in 0..<count { nodes.append(try readNode()) }
            return .nodes(nodes)
        case WireTag.binary8:
            return try readRaw(Int(readByte()), asString: asString)
        case WireTag.binary20:
            let length = try readBytes(3)
            return try readRaw(Int(length[0] & 0x0F) << 16 | Int(length[1]) << 8 | Int(length[2]), asString: asString)
        case WireTag.binary32:
            let length = try readBytes(4).reduce(0) { $0 << 8 | Int($1) }
            return try readRaw(length, asString: asString)
        case WireTag.dictionary0...WireTag.dictionary3:
            let index = try readByte()
            guard let token = TokenDictionary.doubleByteToken(dictionary: tag - WireTag.dictionary0, index: index) else {
                throw .invalidToken(index, offset: tagOffset)
            }
            return .string(token)
        case WireTag.jidPair:
            let user: String
            switch try readValue(asString: true) {
            case .empty: user = ""
            case .string(let string): user = string
            default: throw .invalidJID(offset: tagOffset)
            }
            guard case .string(let server) = try readValue(asString: true) else { throw .invalidJID(offset: tagOffset) }
            return .jid(JID(user: user, server: server))
        case WireTag.adJID:
            let domain = try readByte()
            let device = try readByte()
            guard case .string(let user) = try readValue(asString: true) else { throw .invalidJID(offset: tagOffset) }
            return .jid(JID(user: user, domain: domain, device: device))
        case WireTag.fbJID:
            guard case .string(let user) = try readValue(asString: true) else { throw .invalidJID(offset: tagOffset) }
            let device = try readUInt16()
            guard case .string(JID.Server.messenger) = try readValue(asString: true) else { throw .invalidJID(offset: tagOffset) }
            return .jid(JID(user: user, device: device, server: JID.Server.messenger))
        case WireTag.interopJID:
            guard case .string(let user) = try readValue(asString: true) else { throw .invalidJID(offset: tagOffset) }
            let device = try readUInt16()
            let integrator = try readUInt16()
            guard case .string(JID.Server.interop) = try readValue(asString: true) else { throw .invalidJID(offset: tagOffset) }
            return .jid(JID(user: user, device: device, integrator: integrator, server: JID.Server.interop))
        case WireTag.nibble8, WireTag.hex8:
            return .string(try readPacked(hex: tag == WireTag.hex8))
        default:
            guard let token = TokenDictionary.singleByteToken(tag) else { throw .invalidTag(tag, offset: tagOffset) }
            return .string(token)
        }
    }

    private mutating func readPacked(hex: Bool) throws(BinaryDecoder.Failure) -> String {
        let header = try readByte()
        let packed = try readBytes(Int(header & 0x7F))
        var characters: [UInt8] = []
        characters.reserveCapacity(packed.count * 2)
        for (index, byte) in packed.enumerated() {
            for nibble in [byte >> 4, byte & 0x0F] {
                switch nibble {
                case 0...9: characters.append(UInt8(ascii: "0") + nibble)
                case 10...15 where hex: characters.append(UInt8(ascii: "A") + nibble - 10)
                case 10: characters.append(UInt8(ascii: "-"))
                case 11: characters.append(UInt8(ascii: "."))
                // 0xF pads an odd length; it may only be the very last nibble.
                case 15 where index == packed.count - 1 && header & 0x80 != 0: characters.append(0)
                default: throw .invalidPackedValue(nibble, offset: offset - packed.count + index)
                }
            }
        }
        if header & 0x80 != 0, !characters.isEmpty { characters.removeLast() }
        return String(decoding: characters, as: UTF8.self)
    }

    private mutating func readListSize(_ tag: UInt8) throws(BinaryDecoder.Failure) -> Int {
        switch tag {
        case WireTag.listEmpty: 0
        case WireTag.list8: Int(try readByte())
        case WireTag.list16: Int(try readUInt16())
        default: throw .invalidTag(tag, offset: offset - 1)
        }
    }

    private mutating func readRaw(_ length: Int, asString: Bool) throws(BinaryDecoder.Failure) -> Value {
        let raw = try readBytes(length)
        return asString ? .string(String(decoding: raw, as: UTF8.self)) : .bytes(raw)
    }

    private mutating func readByte() throws(BinaryDecoder.Failure) -> UInt8 {
        guard offset < bytes.count else { throw .unexpectedEnd }
        defer { offset += 1 }
        return bytes[offset]
    }

    private mutating func readUInt16() throws(BinaryDecoder.Failure) -> UInt16 {
        let pair = try readBytes(2)
        return UInt16(pair[0]) << 8 | UInt16(pair[1])
    }

    private mutating func readBytes(_ count: Int) throws(BinaryDecoder.Failure) -> [UInt8] {
        guard count >= 0, count <= bytes.count - offset else { throw .unexpectedEnd }
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }
}
