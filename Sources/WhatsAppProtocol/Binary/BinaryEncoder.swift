import Foundation

/// Writes `BinaryNode`s in WhatsApp's binary format.
public struct BinaryEncoder: Sendable {
    public enum Failure: Error, Equatable, Sendable {
        case tooLarge(Int)
    }

    public init() {}

    /// The node's bytes, without the frame's leading flag byte.
    public func encode(_ node: BinaryNode) throws(Failure) -> Data {
        var writer = Writer()
        try writer.write(node)
        return Data(writer.bytes)
    }

    /// The plaintext of an outgoing frame: the flag byte 0 (not compressed), then the node.
    public func encodeFrame(_ node: BinaryNode) throws(Failure) -> Data {
        var writer = Writer()
        writer.bytes.append(0)
        try writer.write(node)
        return Data(writer.bytes)
    }
}

private struct Writer {
    var bytes: [UInt8] = []

    mutating func write(_ node: BinaryNode) throws(BinaryEncoder.Failure) {
        try writeListStart(1 + 2 * node.attributes.count + (node.content == nil ? 0 : 1))
        try writeString(node.tag)
        for (key, value) in node.attributes {
            try writeString(key)
            switch value {
            case .string(let string): try writeString(string)
            case .jid(let jid): try writeJID(jid)
            }
        }
        switch node.content {
        case nil: break
        case .nodes(let children):
            try writeListStart(children.count)
            for child in children { try write(child) }
        case .bytes(let data): try writeBytes(data)
        case .string(let string): try writeString(string)
        case .jid(let jid): try writeJID(jid)
        }
    }

    mutating func writeListStart(_ size: Int) throws(BinaryEncoder.Failure) {
        switch size {
        case 0: bytes.append(WireTag.listEmpty)
        case ..<256: bytes += [WireTag.list8, UInt8(size)]
        case ..<65536: bytes += [WireTag.list16, UInt8(size >> 8), UInt8(size & 0xFF)]
        default: throw .tooLarge(size)
        }
    }

    mutating func writeString(_ string: String) throws(BinaryEncoder.Failure) {
        switch TokenDictionary.token(for: string) {
        case .single(let index):
            bytes.append(index)
        case .double(let dictionary, let index):
            bytes += [WireTag.dictionary0 + dictionary, index]
        case nil:
            if let packed = PackedString(nibble: string) ?? PackedString(hex: string) {
                bytes += packed.bytes
            } else {
                try writeBytes(Data(string.utf8))
            }
        }
    }

    mutating func writeBytes(_ data: Data) throws(BinaryEncoder.Failure) {
        let length = data.count
        switch length {
        case ..<256:
            bytes += [WireTag.binary8, UInt8(length)]
        case ..<(1 << 20):
            bytes += [WireTag.binary20, UInt8((length >> 16) & 0x0F), UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF)]
        case ..<Int(Int32.max):
            bytes += [WireTag.binary32] + (0..<4).map { UInt8((length >> (8 * (3 - $0))) & 0xFF) }
        default:
            throw .tooLarge(length)
        }
        bytes += data
    }

    mutating func writeJID(_ jid: JID) throws(BinaryEncoder.Failure) {
        switch jid.server {
        case JID.Server.messenger:
            bytes.append(WireTag.fbJID)
            try writeString(jid.user)
            appendUInt16(jid.device)
            try writeString(jid.server)
        case JID.Server.interop:
            bytes.append(WireTag.interopJID)
            try writeString(jid.user)
            appendUInt16(jid.device)
            appendUInt16(jid.integrator)
            try writeString(jid.server)
        case JID.Server.hosted, JID.Server.hostedLID:
            try writeADJID(jid)
        case JID.Server.user where jid.device > 0 || jid.agent > 0,
            JID.Server.lid where jid.device > 0:
            try writeADJID(jid)
        default:
            bytes.append(WireTag.jidPair)
            if jid.user.isEmpty { bytes.append(WireTag.listEmpty) } else { try writeString(jid.user) }
            try writeString(jid.server)
        }
    }

    private mutating func writeADJID(_ jid: JID) throws(BinaryEncoder.Failure) {
        // The device travels in one byte here; a larger one cannot be addressed this way.
        guard jid.device < 256 else { throw .tooLarge(Int(jid.device)) }
        bytes += [WireTag.adJID, jid.domain, UInt8(jid.device)]
        try writeString(jid.user)
    }

    private mutating func appendUInt16(_ value: UInt16) {
        bytes += [UInt8(value >> 8), UInt8(value & 0xFF)]
    }
}

/// NIBBLE_8 (digits, '-', '.') and HEX_8 (0-9, A-F) pack two characters per byte; an odd
/// length sets the top bit of the length byte and pads with 0xF.
struct PackedString {
    let bytes: [UInt8]

    init?(nibble string: String) {
        self.init(string, tag: WireTag.nibble8) { character in
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
            case UInt8(ascii: "-"): 10
            case UInt8(ascii: "."): 11
            default: nil
            }
        }
    }

    init?(hex string: String) {
        self.init(string, tag: WireTag.hex8) { character in
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
            case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
            default: nil
            }
        }
    }

    private init?(_ string: String, tag: UInt8, value: (UInt8) -> UInt8?) {
        let characters = Array(string.utf8)
        // The empty string stays a raw string: both references decode it, and it is clearer.
        guard !characters.isEmpty, characters.count <= WireTag.packedMax else { return nil }
        var nibbles: [UInt8] = []
        nibbles.reserveCapacity(characters.count + 1)
        for character in characters {
            guard let nibble = value(character) else { return nil }
            nibbles.append(nibble)
        }
        let odd = nibbles.count % 2 == 1
        if odd { nibbles.append(0x0F) }
        var bytes: [UInt8] = [tag, UInt8(nibbles.count / 2) | (odd ? 0x80 : 0)]
        for pair in stride(from: 0, to: nibbles.count, by: 2) {
            bytes.append(nibbles[pair] << 4 | nibbles[pair + 1])
        }
        self.bytes = bytes
    }
}
