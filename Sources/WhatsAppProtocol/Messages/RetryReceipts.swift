import Foundation
import SignalProtocol

/// Retry receipts: asking the sender of a message that did not decrypt to send it again
/// (whatsmeow retry.go: sendRetryReceipt).
///
/// The count starts at 1 per message id (or one above the `count` of a re-sent message, when
/// the client restarted in between); from the second retry, or at once when the sender's group
/// key is missing, the receipt carries this device's keys and a fresh one-time prekey so the
/// sender can build a new session. At the fifth failure no receipt is sent any more.
public enum RetryReceipts {
    /// The count at which whatsmeow stops sending retry receipts (so at most four go out).
    public static let exhaustedAt = 5

    /// The next count for a message whose retry receipts so far number `previous`, `inMessage`
    /// being the `count` of the stanza's single `enc` (0 for a first send).
    public static func nextCount(previous: Int, inMessage: Int) -> Int {
        let count = previous + 1
        return count == 1 && inMessage > 0 ? inMessage + 1 : count
    }

    /// Whether the receipt with `count` carries keys.
    public static func includesKeys(count: Int, senderKeyMissing: Bool) -> Bool {
        count > 1 || senderKeyMissing
    }

    /// The keys a retry receipt hands over.
    public struct Keys: Sendable, Equatable {
        public var identity: Data
        public var preKeyID: UInt32
        /// The one-time prekey's public key (32 bytes).
        public var preKey: Data
        public var signedPreKeyID: UInt32
        public var signedPreKey: Data
        public var signedPreKeySignature: Data
        /// The ADV signed device identity (`device-identity`).
        public var deviceIdentity: Data

        public init(
            identity: Data, preKeyID: UInt32, preKey: Data, signedPreKeyID: UInt32, signedPreKey: Data, signedPreKeySignature: Data,
            deviceIdentity: Data
        ) {
            self.identity = identity
            self.preKeyID = preKeyID
            self.preKey = preKey
            self.signedPreKeyID = signedPreKeyID
            self.signedPreKey = signedPreKey
            self.signedPreKeySignature = signedPreKeySignature
            self.deviceIdentity = deviceIdentity
        }
    }

    /// `<receipt type=retry …><retry count id t v=1/><registration/>[<keys>…</keys>]</receipt>`.
    public static func receipt(for stanza: MessageStanza, count: Int, registrationID: UInt32, keys: Keys?) -> BinaryNode {
        var attributes = Receipts.base(id: stanza.id, node: stanza.node)
        attributes["type"] = "retry"
        if stanza.type == "peer_msg", stanza.source.isFromMe { attributes["category"] = "peer" }
        var retry: BinaryNode.Attributes = ["count": .string(String(count)), "id": .string(stanza.id)]
        if let t = stanza.node.attributes["t"] { retry["t"] = t }
        retry["v"] = "1"
        var children = [
            BinaryNode(tag: "retry", attributes: retry),
            BinaryNode(tag: "registration", content: .bytes(PreKeys.bigEndian(registrationID, bytes: 4))),
        ]
        if let keys {
            children.append(
                BinaryNode(
                    tag: "keys",
                    children: [
                        BinaryNode(tag: "type", content: .bytes(Data([ECPublicKey.typeByte]))),
                        BinaryNode(tag: "identity", content: .bytes(keys.identity)),
                        BinaryNode(
                            tag: "key",
                            children: [
                                BinaryNode(tag: "id", content: .bytes(PreKeys.bigEndian(keys.preKeyID, bytes: 3))),
                                BinaryNode(tag: "value", content: .bytes(keys.preKey)),
                            ]),
                        BinaryNode(
                            tag: "skey",
                            children: [
                                BinaryNode(tag: "id", content: .bytes(PreKeys.bigEndian(keys.signedPreKeyID, bytes: 3))),
                                BinaryNode(tag: "value", content: .bytes(keys.signedPreKey)),
                                BinaryNode(tag: "signature", content: .bytes(keys.signedPreKeySignature)),
                            ]),
                        BinaryNode(tag: "device-identity", content: .bytes(keys.deviceIdentity)),
                    ]))
        }
        return BinaryNode(tag: "receipt", attributes: attributes, children: children)
    }
}
