import Foundation
import Testing

@testable import WhatsAppProtocol

@Suite struct TokenDictionaryTests {
    /// Indexes read off whatsmeow binary/token/token.go (dictionary version 3).
    @Test func knownSingleByteTokens() {
        #expect(TokenDictionary.singleByteToken(3) == "s.whatsapp.net")
        #expect(TokenDictionary.singleByteToken(19) == "message")
        #expect(TokenDictionary.singleByteToken(25) == "iq")
        #expect(TokenDictionary.singleByteToken(235) == "screen_height")
        #expect(TokenDictionary.singleByteToken(0) == nil)
        #expect(TokenDictionary.singleByteToken(236) == nil)
        #expect(TokenDictionary.token(for: "iq") == .single(25))
    }

    @Test func knownDoubleByteTokens() {
        #expect(TokenDictionary.doubleByteToken(dictionary: 0, index: 0) == "read-self")
        #expect(TokenDictionary.doubleByteToken(dictionary: 0, index: 255) == "mute_v2")
        #expect(TokenDictionary.doubleByteToken(dictionary: 1, index: 0) == "reject")
        #expect(TokenDictionary.doubleByteToken(dictionary: 2, index: 0) == "64")
        #expect(TokenDictionary.doubleByteToken(dictionary: 3, index: 0) == "1724")
        #expect(TokenDictionary.token(for: "pair-device") == .double(dictionary: 1, index: 238))
        #expect(TokenDictionary.token(for: "not a token") == nil)
        #expect(TokenDictionary.version == 3)
    }
}

@Suite struct BinaryCodecTests {
    /// FB and interop JIDs: Baileys only decodes them, so these bytes follow whatsmeow's
    /// writeJID and were checked with Baileys' decoder ("100001:2@msgr", "7-100001:2@interop").
    @Test func messengerJID() throws {
        let node = BinaryNode(tag: "message", attributes: ["to": .jid(JID(user: "100001", device: 2, server: JID.Server.messenger))])
        let bytes = "f8031311f6ff031000010002cc"
        #expect(try BinaryEncoder().encode(node).hex == bytes)
        #expect(try BinaryDecoder().decode(Data(hex: bytes)) == node)
    }

    @Test func interopJID() throws {
        let jid = JID(user: "100001", device: 2, integrator: 7, server: JID.Server.interop)
        let node = BinaryNode(tag: "message", attributes: ["to": .jid(jid)])
        let bytes = "f8031311f5ff0310000100020007fc07696e7465726f70"
        #expect(try BinaryEncoder().encode(node).hex == bytes)
        #expect(try BinaryDecoder().decode(Data(hex: bytes)) == node)
    }

    @Test func jidContent() throws {
        let node = BinaryNode(tag: "item", content: .jid(.lid("42", device: 1)))
        #expect(try BinaryDecoder().decode(BinaryEncoder().encode(node)) == node)
    }

    @Test func rejectsTruncatedInput() throws {
        let bytes = try BinaryEncoder().encode(BinaryNode(tag: "enc", content: .bytes(Data(repeating: 7, count: 40))))
        for length in 0..<bytes.count {
            #expect(throws: BinaryDecoder.Failure.self) { try BinaryDecoder().decode(bytes.prefix(length)) }
        }
    }

    @Test func rejectsTrailingBytes() throws {
        var bytes = try BinaryEncoder().encode(BinaryNode(tag: "iq"))
        bytes.append(0)
        #expect(throws: BinaryDecoder.Failure.trailingBytes(1)) { try BinaryDecoder().decode(bytes) }
    }

    @Test func rejectsBadTokensAndNibbles() {
        // Tag byte 240 is neither a token nor a type.
        #expect(throws: BinaryDecoder.Failure.invalidTag(240, offset: 2)) { try BinaryDecoder().decode(Data([0xF8, 0x01, 0xF0])) }
        // Nibble 0xC is not a character.
        #expect(throws: BinaryDecoder.Failure.self) { try BinaryDecoder().decode(Data([0xF8, 0x01, 0xFF, 0x01, 0x1C])) }
        // A node whose list size is zero has no tag.
        #expect(throws: BinaryDecoder.Failure.self) { try BinaryDecoder().decode(Data([0x00])) }
        // A compressed frame that is not zlib.
        #expect(throws: BinaryDecoder.Failure.decompressionFailed) { try BinaryDecoder().decodeFrame(Data([2, 1, 2, 3])) }
        #expect(throws: BinaryDecoder.Failure.emptyFrame) { try BinaryDecoder().decodeFrame(Data()) }
    }

    @Test func attributesKeepOrderAndReplaceInPlace() {
        var attributes: BinaryNode.Attributes = ["b": "1", "a": "2"]
        attributes["b"] = "3"
        attributes["c"] = .jid(.server)
        #expect(attributes.map(\.key) == ["b", "a", "c"])
        #expect(attributes.string("b") == "3")
        #expect(attributes.jid("c") == .server)
        attributes["a"] = nil
        #expect(attributes.map(\.key) == ["b", "c"])
    }

    /// Random nodes over every encoding survive encode → decode.
    @Test func randomNodesRoundTrip() throws {
        var generator = SeededGenerator(seed: 0x5EED_CAFE)
        for _ in 0..<500 {
            let node = RandomNodes.node(depth: 3, using: &generator)
            let bytes = try BinaryEncoder().encode(node)
            #expect(try BinaryDecoder().decode(bytes) == RandomNodes.asDecoded(node), "\(node)")
        }
    }
}

/// A small deterministic generator so a failing case can be reproduced.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        // SplitMix64.
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum RandomNodes {
    static let tokens = ["iq", "message", "s.whatsapp.net", "read-self", "pair-device", "1724", "64", "mute_v2", "status"]

    static func string<G: RandomNumberGenerator>(using generator: inout G) -> String {
        switch Int.random(in: 0..<6, using: &generator) {
        case 0: return tokens.randomElement(using: &generator)!
        case 1: return String((0..<Int.random(in: 1...140, using: &generator)).map { _ in "0123456789-.".randomElement(using: &generator)! })
        case 2: return String((0..<Int.random(in: 1...140, using: &generator)).map { _ in "0123456789ABCDEF".randomElement(using: &generator)! })
        case 3: return ""
        case 4: return String((0..<Int.random(in: 1...30, using: &generator)).map { _ in "abcxyzé🙂 _:@".randomElement(using: &generator)! })
        default: return String((0..<Int.random(in: 250...300, using: &generator)).map { _ in "ab".randomElement(using: &generator)! })
        }
    }

    static func jid<G: RandomNumberGenerator>(using generator: inout G) -> JID {
        let user = String(UInt64.random(in: 1...99_999_999_999_999, using: &generator))
        let device = UInt16.random(in: 0...99, using: &generator)
        switch Int.random(in: 0..<8, using: &generator) {
        case 0: return .user(user, device: device)
        case 1: return .lid(user, device: device)
        case 2: return JID(user: user, server: JID.Server.group)
        case 3: return JID(server: JID.Server.user)
        case 4: return JID(user: user, device: device, server: JID.Server.hosted)
        case 5: return JID(user: user, device: device, server: JID.Server.messenger)
        case 6: return JID(user: user, device: device, integrator: UInt16.random(in: 0...999, using: &generator), server: JID.Server.interop)
        default: return JID(user: user, agent: UInt8.random(in: 2...99, using: &generator), device: device, server: JID.Server.user)
        }
    }

    static func node<G: RandomNumberGenerator>(depth: Int, using generator: inout G) -> BinaryNode {
        var tag = string(using: &generator)
        if tag.isEmpty { tag = "x" }
        var attributes = BinaryNode.Attributes()
        for _ in 0..<Int.random(in: 0...4, using: &generator) {
            let key = string(using: &generator) + "k"
            attributes[key] = Bool.random(using: &generator) ? .string(string(using: &generator)) : .jid(jid(using: &generator))
        }
        let content: BinaryNode.Content?
        switch Int.random(in: 0..<(depth > 0 ? 6 : 5), using: &generator) {
        case 0: content = nil
        case 1: content = .bytes(Data((0..<Int.random(in: 0...400, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }))
        case 2: content = .string(string(using: &generator))
        case 3: content = .jid(jid(using: &generator))
        case 4: content = .nodes([])
        default:
            content = .nodes(
                (0..<Int.random(in: 1...(depth == 3 ? 300 : 5), using: &generator)).map { _ in node(depth: depth - 1, using: &generator) })
        }
        return BinaryNode(tag: tag, attributes: attributes, content: content)
    }

    /// What the decoder gives back for `node`: strings that travel raw come back as bytes,
    /// and phone-number JIDs with device 0 and no agent are plain pairs either way.
    static func asDecoded(_ node: BinaryNode) -> BinaryNode {
        var node = node
        switch node.content {
        case .string(let string)
        where TokenDictionary.token(for: string) == nil
            && PackedString(nibble: string) == nil && PackedString(hex: string) == nil:
            node.content = .bytes(Data(string.utf8))
        case .nodes(let children):
            node.content = .nodes(children.map(asDecoded))
        default:
            break
        }
        return node
    }
}
