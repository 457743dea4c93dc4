import Crypto
import Foundation
import Testing

@testable import WhatsAppProtocol

/// The Swift codec against bytes a reference implementation produced (see BaileysVectors).
@Suite struct BinaryGoldenVectorTests {
    static func pattern(_ count: Int) -> Data { Data((0..<count).map { UInt8($0 % 251) }) }

    /// The node each vector encodes, written with explicit JIDs where Baileys parses a JID string.
    static let nodes: [String: BinaryNode] = [
        "iq_ping": BinaryNode(
            tag: "iq",
            attributes: [
                "id": "3EB0A1B2C3D4E5F6", "type": "get", "xmlns": "w:p", "to": .jid(.server),
            ]),
        // Baileys writes integer-like keys first (JavaScript object order), so "1724" leads.
        "double_tokens": BinaryNode(
            tag: "read-self",
            attributes: [
                "1724": "mute_v2", "reject": "64", "u_aud_limit_sil_restarts_test1": "offline",
            ]),
        "token_precedence": BinaryNode(tag: "receipt", attributes: ["t": "1", "count": "00", "v": "2"]),
        "nibble_packed": BinaryNode(
            tag: "message",
            attributes: [
                "id": "123.456-789", "t": "1700000000", "even": "0123456789",
            ]),
        "hex_packed": BinaryNode(
            tag: "message",
            attributes: [
                "id": "3EB0ABCDEF", "odd": "ABC", "digits_and_hex": "0A1B2C3",
            ]),
        "nibble_max_length": BinaryNode(tag: "n", attributes: ["v": .string(String(repeating: "1", count: 127))]),
        "nibble_too_long_is_raw": BinaryNode(tag: "n", attributes: ["v": .string(String(repeating: "2", count: 128))]),
        "raw_strings": BinaryNode(
            tag: "presence",
            attributes: [
                "name": "Zoë Müller 🙂", "empty": "", "lower_hex": "abcdef",
            ]),
        "jid_pair": BinaryNode(
            tag: "message",
            attributes: [
                "from": .jid(.user("5511987654321")),
                "to": .jid(JID(user: "120363025246125888", server: JID.Server.group)),
                "participant": .jid(JID(user: "status", server: JID.Server.broadcast)),
            ]),
        "jid_pair_server_only": BinaryNode(tag: "iq", attributes: ["to": .jid(JID(server: JID.Server.group))]),
        "ad_jid": BinaryNode(
            tag: "receipt",
            attributes: [
                "from": .jid(.user("5511987654321", device: 12)),
                "participant": .jid(.lid("203123456789012", device: 3)),
                "recipient": .jid(JID(user: "1234", server: JID.Server.hosted)),
                "to": .jid(JID(user: "98765", device: 7, server: JID.Server.hostedLID)),
            ]),
        "ad_jid_agent": BinaryNode(
            tag: "receipt",
            attributes: [
                "from": .jid(JID(user: "5511987654321", agent: 7, device: 3, server: JID.Server.user))
            ]),
        "children_list8": BinaryNode(
            tag: "iq", attributes: ["type": "result"],
            children: [
                BinaryNode(
                    tag: "pair-device",
                    children: [
                        BinaryNode(tag: "ref", content: .bytes(Data("2@AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/=".utf8))),
                        BinaryNode(tag: "ref", content: .bytes(Data("2@second".utf8))),
                    ]),
                BinaryNode(tag: "ping"),
            ]),
        "empty_children": BinaryNode(tag: "list", children: []),
        "string_content_token": BinaryNode(tag: "platform", attributes: ["name": "android"], content: .string("status")),
        "string_content_nibble": BinaryNode(tag: "count", content: .string("42")),
        "binary8": BinaryNode(tag: "enc", attributes: ["v": "2", "type": "pkmsg"], content: .bytes(pattern(200))),
        "binary20": BinaryNode(tag: "enc", attributes: ["type": "msg"], content: .bytes(pattern(300))),
        "list16": BinaryNode(
            tag: "list",
            children: (0..<300).map {
                BinaryNode(tag: "item", attributes: ["id": .string(String($0))])
            }),
    ]

    @Test func everyVectorHasANode() {
        #expect(Set(Self.nodes.keys) == Set(BaileysVectors.hex.keys))
    }

    @Test(arguments: BaileysVectors.hex.keys.sorted())
    func encodesLikeTheReference(_ name: String) throws {
        let node = try #require(Self.nodes[name])
        let expected = try #require(BaileysVectors.hex[name])
        #expect(try BinaryEncoder().encode(node).hex == expected)
    }

    @Test(arguments: BaileysVectors.hex.keys.sorted())
    func decodesTheReferenceBytes(_ name: String) throws {
        let node = try #require(Self.nodes[name])
        let bytes = Data(hex: try #require(BaileysVectors.hex[name]))
        #expect(try BinaryDecoder().decode(bytes) == node)
    }

    @Test func binary32MatchesTheReferenceDigest() throws {
        let node = BinaryNode(tag: "media", content: .bytes(Self.pattern(1 << 20)))
        let encoded = try BinaryEncoder().encode(node)
        #expect(encoded.prefix(16).hex == BaileysVectors.binary32Prefix)
        #expect(encoded.count == BaileysVectors.binary32Length)
        #expect(Data(SHA256.hash(data: encoded)).hex == BaileysVectors.binary32SHA256)
        #expect(try BinaryDecoder().decode(encoded) == node)
    }

    @Test func decodesACompressedFrame() throws {
        let node = try BinaryDecoder().decodeFrame(Data(hex: BaileysVectors.compressedFrame))
        #expect(
            node
                == BinaryNode(
                    tag: "success",
                    attributes: ["t": "1700000000", "lid": .jid(.lid("203123456789012"))],
                    children: [BinaryNode(tag: "props", attributes: ["hash": "ABCDEF"])]
                ))
        #expect(try BinaryDecoder.unpack(Data(hex: BaileysVectors.compressedFrame)).hex == BaileysVectors.compressedFramePlain)
    }

    @Test func uncompressedFrameHasAZeroFlag() throws {
        let node = BinaryNode(tag: "iq", attributes: ["id": "1"])
        let frame = try BinaryEncoder().encodeFrame(node)
        #expect(frame.first == 0)
        #expect(try BinaryDecoder().decodeFrame(frame) == node)
    }
}
