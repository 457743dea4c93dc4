import Foundation

/// A message decrypted from a `message` stanza, as `ClientEvent.message` reports it.
///
/// The stanza is not answered yet: the owner stores the message and then calls
/// `WhatsAppClient.confirm(_:)` with `delivery`, which sends the delivery receipt. Until then
/// WhatsApp keeps the message and delivers it again after a reconnect; the decrypt buffer answers
/// that second delivery, so it comes out as the same event (the owner drops it by `id`).
public struct ReceivedMessage: Sendable, Equatable {
    /// WhatsApp's id of the message (the stanza's `id`).
    public var id: String
    public var source: MessageSource
    /// The sender's phone-number user (no device), from the stanza or the stored LID map;
    /// nil when neither names it.
    public var senderPhone: JID?
    /// The sender's LID user (no device), when known.
    public var senderLID: JID?
    /// For the account's own messages: the phone-number user of the chat they went to.
    public var chatPhone: JID?
    public var pushName: String?
    /// The group's name, for a group message, when a group-info query gave it.
    public var groupSubject: String?
    public var timestamp: Date
    public var content: MessageContent
    /// The whole decoded message, for what `content` leaves out.
    public var message: WAMessage
    public var delivery: DeliveryConfirmation

    public init(
        id: String, source: MessageSource, senderPhone: JID?, senderLID: JID?, chatPhone: JID?, pushName: String?, groupSubject: String? = nil,
        timestamp: Date, content: MessageContent, message: WAMessage, delivery: DeliveryConfirmation
    ) {
        self.id = id
        self.source = source
        self.senderPhone = senderPhone
        self.senderLID = senderLID
        self.chatPhone = chatPhone
        self.pushName = pushName
        self.groupSubject = groupSubject
        self.timestamp = timestamp
        self.content = content
        self.message = message
        self.delivery = delivery
    }
}

/// A message that could not be decrypted: a retry receipt has asked the sender to send it again
/// (up to four times, whatsmeow retry.go); when that succeeds it arrives as a `ReceivedMessage`
/// with the same `id`.
public struct UndecryptableMessage: Sendable, Equatable {
    public var id: String
    public var source: MessageSource
    public var senderPhone: JID?
    public var senderLID: JID?
    public var chatPhone: JID?
    public var pushName: String?
    public var timestamp: Date
    /// What went wrong, for logs.
    public var reason: String
    /// How many retry receipts have been sent for it so far (0 once they are exhausted).
    public var retryCount: Int
    public var delivery: DeliveryConfirmation

    public init(
        id: String, source: MessageSource, senderPhone: JID?, senderLID: JID?, chatPhone: JID?, pushName: String?, timestamp: Date,
        reason: String, retryCount: Int, delivery: DeliveryConfirmation
    ) {
        self.id = id
        self.source = source
        self.senderPhone = senderPhone
        self.senderLID = senderLID
        self.chatPhone = chatPhone
        self.pushName = pushName
        self.timestamp = timestamp
        self.reason = reason
        self.retryCount = retryCount
        self.delivery = delivery
    }
}

/// What answers a message stanza once its owner has stored what it reported: the stanza to send
/// (a delivery receipt, or an ack) and the decrypt-buffer entries whose plaintext can go.
public struct DeliveryConfirmation: Sendable, Equatable {
    public var answer: BinaryNode
    public var bufferKeys: [Data]

    public init(answer: BinaryNode, bufferKeys: [Data]) {
        self.answer = answer
        self.bufferKeys = bufferKeys
    }
}
