import Foundation

/// The stanzas that answer an incoming message (whatsmeow receipt.go): the delivery receipt once
/// it is stored, an ack (with an error code when it cannot be handled), and read receipts.
public enum Receipts {
    /// whatsmeow receipt.go: the `error` codes of a negative ack.
    public enum NackCode: Int, Sendable {
        case parsingError = 487
        case unrecognizedStanza = 488
        case invalidProtobuf = 491
    }

    /// `<receipt id to=FROM [recipient] [participant] [type]>`: `sender` for a message from
    /// another device of the account (`peer_msg` for its peer category); otherwise no type once the
    /// client announced itself available (`active`), `inactive` before (whatsmeow sendMessageReceipt).
    public static func delivery(for stanza: MessageStanza, active: Bool = true) -> BinaryNode {
        var attributes = base(id: stanza.id, node: stanza.node)
        if stanza.source.isFromMe {
            attributes["type"] = stanza.type == "peer_msg" ? "peer_msg" : "sender"
        } else if !active {
            attributes["type"] = "inactive"
        }
        return BinaryNode(tag: "receipt", attributes: attributes)
    }

    /// `<ack class=TAG id to=FROM [participant] [recipient] [type] [error]>`; a message's ack has
    /// no type (whatsmeow receipt.go: sendAck).
    public static func ack(_ node: BinaryNode, error: NackCode? = nil) -> BinaryNode {
        var attributes: BinaryNode.Attributes = ["class": .string(node.tag)]
        if let id = node.attributes["id"] { attributes["id"] = id }
        if let from = node.attributes["from"] { attributes["to"] = from }
        if let participant = node.attributes["participant"] { attributes["participant"] = participant }
        if let recipient = node.attributes["recipient"] { attributes["recipient"] = recipient }
        if node.tag != "message", let type = node.attributes["type"] { attributes["type"] = type }
        if let error { attributes["error"] = .string(String(error.rawValue)) }
        return BinaryNode(tag: "ack", attributes: attributes)
    }

    /// `<receipt id type=read to=CHAT t [participant]>` for messages of one sender, the first id
    /// in the stanza and the rest in `<list><item id/>…` (whatsmeow receipt.go: MarkRead). The
    /// participant is named in groups only.
    public static func read(ids: [String], chat: JID, sender: JID?, at date: Date) -> BinaryNode? {
        guard let first = ids.first else { return nil }
        var attributes: BinaryNode.Attributes = [
            "id": .string(first), "type": "read", "to": .jid(chat), "t": .string(String(Int64(date.timeIntervalSince1970))),
        ]
        if let sender, chat.server != JID.Server.user, chat.server != JID.Server.lid, chat.server != JID.Server.messenger {
            attributes["participant"] = .jid(sender.withoutDevice)
        }
        let rest = ids.dropFirst().map { BinaryNode(tag: "item", attributes: ["id": .string($0)]) }
        return BinaryNode(tag: "receipt", attributes: attributes, content: rest.isEmpty ? nil : .nodes([BinaryNode(tag: "list", children: rest)]))
    }

    /// `id`, `to` (the stanza's `from`), and its `recipient` and `participant` when present
    /// (whatsmeow receipt.go: buildBaseReceipt).
    static func base(id: String, node: BinaryNode) -> BinaryNode.Attributes {
        var attributes: BinaryNode.Attributes = ["id": .string(id)]
        if let from = node.attributes["from"] { attributes["to"] = from }
        if let recipient = node.attributes["recipient"] { attributes["recipient"] = recipient }
        if let participant = node.attributes["participant"] { attributes["participant"] = participant }
        return attributes
    }
}
