import Foundation

/// Who sent a `message` stanza, in which chat, and under which other address the sender is
/// known (whatsmeow message.go: parseMessageSource).
public struct MessageSource: Sendable, Equatable {
    /// The conversation: the other user (without device) for a 1:1 chat, the group for a group.
    /// For a message the account's own phone sent, the user it was sent to.
    public var chat: JID
    /// The sending device, as the stanza addresses it (phone number or LID).
    public var sender: JID
    /// The sender under its other addressing (`sender_pn`/`sender_lid`, or `participant_pn`/
    /// `participant_lid` in groups), with the sender's device.
    public var senderAlternate: JID?
    /// For the account's own messages: the chat under its other addressing (`peer_recipient_pn`
    /// or `peer_recipient_lid`).
    public var chatAlternate: JID?
    public var isGroup: Bool
    /// Sent by another device of this account (the phone, another companion).
    public var isFromMe: Bool

    public init(chat: JID, sender: JID, senderAlternate: JID?, chatAlternate: JID?, isGroup: Bool, isFromMe: Bool) {
        self.chat = chat
        self.sender = sender
        self.senderAlternate = senderAlternate
        self.chatAlternate = chatAlternate
        self.isGroup = isGroup
        self.isFromMe = isFromMe
    }

    /// The sender's phone-number JID (with device), when the stanza names it.
    public var senderPhone: JID? {
        if !sender.isLID { return sender }
        return senderAlternate.flatMap { $0.isLID ? nil : $0 }
    }

    /// The sender's LID (with device), when the stanza names it.
    public var senderLID: JID? {
        if sender.isLID { return sender }
        return senderAlternate.flatMap { $0.isLID ? $0 : nil }
    }
}

/// One `<enc>` child of a message stanza.
public struct EncryptedPart: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// `pkmsg`: a PreKeySignalMessage, the first messages of a 1:1 session.
        case preKey
        /// `msg`: a SignalMessage of an established 1:1 session.
        case whisper
        /// `skmsg`: a SenderKeyMessage of a group.
        case senderKey
        /// Anything else (`msmsg`, newer kinds): not decrypted here.
        case other(String)
    }

    public var kind: Kind
    /// `v`: 2 for padded protobuf plaintexts (the only version handled), 3 for Armadillo.
    public var version: Int
    /// `count`: how many retries the sender already answered with this re-send (0 for the first send).
    public var retryCount: Int
    /// `mediatype`, on media messages.
    public var mediaType: String?
    public var ciphertext: Data

    public init(kind: Kind, version: Int, retryCount: Int, mediaType: String?, ciphertext: Data) {
        self.kind = kind
        self.version = version
        self.retryCount = retryCount
        self.mediaType = mediaType
        self.ciphertext = ciphertext
    }
}

/// A `message` stanza as received, before decryption (whatsmeow message.go: parseMessageInfo).
public struct MessageStanza: Sendable, Equatable {
    public var id: String
    public var source: MessageSource
    /// `t`: when the server received it.
    public var timestamp: Date
    /// `notify`: the sender's push name, when it has one.
    public var pushName: String?
    /// `type`: `text`, `media`, `reaction`, `poll`…
    public var type: String?
    /// `category`: `peer` for the account's own devices talking to each other.
    public var category: String?
    public var parts: [EncryptedPart]
    /// The stanza itself, for the ack and receipts that echo its addressing.
    public var node: BinaryNode

    public enum ParseError: Error, Equatable, Sendable {
        case notAMessage
        case missingAttribute(String)
    }

    /// Parses `node` for the account `own` (phone-number JID) with LID `ownLID`.
    public init(_ node: BinaryNode, own: JID, ownLID: JID?) throws(ParseError) {
        guard node.tag == "message" else { throw .notAMessage }
        let attributes = node.attributes
        guard let id = attributes.string("id"), !id.isEmpty else { throw .missingAttribute("id") }
        guard let from = attributes.jid("from") else { throw .missingAttribute("from") }
        self.id = id
        self.node = node
        timestamp = Date(timeIntervalSince1970: TimeInterval(attributes.string("t").flatMap { Int64($0) } ?? 0))
        pushName = attributes.string("notify").flatMap { $0.isEmpty || $0 == "-" ? nil : $0 }
        type = attributes.string("type")
        category = attributes.string("category")
        source = try Self.source(of: attributes, from: from, own: own, ownLID: ownLID)
        parts = node.children.compactMap { child in
            guard child.tag == "enc", let kind = child.attributes.string("type") else { return nil }
            return EncryptedPart(
                kind: Self.kind(kind),
                version: child.attributes.string("v").flatMap { Int($0) } ?? 2,
                retryCount: child.attributes.string("count").flatMap { Int($0) } ?? 0,
                mediaType: child.attributes.string("mediatype"),
                ciphertext: child.contentBytes ?? Data()
            )
        }
    }

    private static func kind(_ name: String) -> EncryptedPart.Kind {
        switch name {
        case "pkmsg": .preKey
        case "msg": .whisper
        case "skmsg": .senderKey
        default: .other(name)
        }
    }

    private static func source(of attributes: BinaryNode.Attributes, from: JID, own: JID, ownLID: JID?) throws(ParseError) -> MessageSource {
        func isOwn(_ jid: JID) -> Bool { jid.user == own.user || (ownLID.map { jid.user == $0.user } ?? false) }
        func alternate(_ key: String, device: UInt16) -> JID? {
            guard var jid = attributes.jid(key), !jid.user.isEmpty else { return nil }
            if jid.device == 0 { jid.device = device }
            return jid
        }
        if from.server == JID.Server.group || from.server == JID.Server.broadcast {
            guard let participant = attributes.jid("participant") else { throw .missingAttribute("participant") }
            let key = participant.isLID ? "participant_pn" : "participant_lid"
            return MessageSource(
                chat: from, sender: participant, senderAlternate: alternate(key, device: participant.device), chatAlternate: nil,
                isGroup: true, isFromMe: isOwn(participant))
        }
        let sender = Self.normalised(from)
        if isOwn(from) {
            // Sent by another device of this account: the chat is the recipient.
            let chat = (attributes.jid("recipient") ?? from).withoutDevice
            let key = chat.isLID ? "peer_recipient_pn" : "peer_recipient_lid"
            return MessageSource(
                chat: chat, sender: sender, senderAlternate: nil, chatAlternate: alternate(key, device: 0), isGroup: false, isFromMe: true)
        }
        let key = sender.isLID ? "sender_pn" : "sender_lid"
        return MessageSource(
            chat: sender.withoutDevice, sender: sender, senderAlternate: alternate(key, device: sender.device), chatAlternate: nil,
            isGroup: false, isFromMe: false)
    }

    /// Hosted (Cloud API) JIDs are the same accounts as their ordinary forms.
    private static func normalised(_ jid: JID) -> JID {
        var jid = jid
        if jid.server == JID.Server.hosted { jid.server = JID.Server.user }
        if jid.server == JID.Server.hostedLID { jid.server = JID.Server.lid }
        return jid
    }
}
