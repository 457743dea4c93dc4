import Foundation

/// A `<receipt>` stanza as a value (whatsmeow receipt.go: parseReceipt, types/receipt.go).
public struct Receipt: Sendable, Equatable {
    /// The receipt's `type`; a delivery receipt has none.
    public enum Kind: Sendable, Equatable {
        case delivered
        /// Delivered to a device whose user is not active (`inactive`): still a delivery.
        case inactive
        case read
        /// Our own other device read a message of the chat (`read-self`).
        case readSelf
        /// A voice or video message was played (`played`).
        case played
        case playedSelf
        /// A device could not decrypt and asks for the message again (`retry`).
        case retry
        /// Our own devices confirming a message we sent (`sender`).
        case sender
        case other(String)

        public init(_ type: String?) {
            switch type {
            case nil, "": self = .delivered
            case "inactive": self = .inactive
            case "read": self = .read
            case "read-self": self = .readSelf
            case "played": self = .played
            case "played-self": self = .playedSelf
            case "retry": self = .retry
            case "sender": self = .sender
            case let other?: self = .other(other)
            }
        }
    }

    /// The device that sent the receipt (`participant` in groups, else `from`).
    public var sender: JID
    /// `from`: the chat.
    public var chat: JID
    /// `recipient`: for receipts from our own devices, the chat the message went to.
    public var recipient: JID?
    public var kind: Kind
    /// The message ids: `id`, then those of `<list><item id/>…</list>`.
    public var messageIDs: [String]
    /// `t`, Unix seconds.
    public var timestamp: Date?
    /// The stanza itself, for retry receipts (their keys) and the ack.
    public var node: BinaryNode

    public init?(_ node: BinaryNode) {
        guard node.tag == "receipt", let from = node.attributes.jid("from"), let id = node.attributes.string("id") else { return nil }
        self.node = node
        chat = from
        sender = node.attributes.jid("participant") ?? from
        recipient = node.attributes.jid("recipient")
        kind = Kind(node.attributes.string("type"))
        var ids = [id]
        if let list = node.child("list") {
            ids += list.children.filter { $0.tag == "item" }.compactMap { $0.attributes.string("id") }
        }
        messageIDs = ids
        timestamp = node.attributes.string("t").flatMap { Double($0) }.map { Date(timeIntervalSince1970: $0) }
    }

    /// What a retry receipt asks for (`<retry id t count v/>`).
    public struct Retry: Sendable, Equatable {
        public var messageID: String
        public var count: Int
        public var timestamp: String?
    }

    public var retry: Retry? {
        guard kind == .retry, let child = node.child("retry"), let id = child.attributes.string("id") else { return nil }
        return Retry(messageID: id, count: child.attributes.string("count").flatMap { Int($0) } ?? 1, timestamp: child.attributes.string("t"))
    }
}
