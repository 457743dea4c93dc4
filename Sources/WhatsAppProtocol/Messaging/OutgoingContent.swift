import Foundation

/// What a 1:1 message carries, already serialized: the `Message` for the recipient's devices,
/// and how to wrap it as a `DeviceSentMessage` for the account's own other devices once the
/// destination chat is known (whatsmeow send.go: marshalMessage). The client never needs to
/// know the message protobuf.
public struct OutgoingContent: Sendable {
    public var plaintext: Data
    /// The `Message` with `deviceSentMessage { destinationJid: chat, message }`, for `chat`.
    public var deviceSent: @Sendable (_ chat: JID) -> Data
    /// The stanza `type` (whatsmeow send.go: getTypeFromMessage); `text` for text messages.
    public var type: String
    /// The `mediatype` every `enc` node of a media message carries (send.go:
    /// getMediaTypeFromMessage: `image`, `video`, `audio`, `ptt`, `document`…); nil otherwise.
    public var mediaType: String?

    public init(plaintext: Data, type: String = "text", mediaType: String? = nil, deviceSent: @escaping @Sendable (_ chat: JID) -> Data) {
        self.plaintext = plaintext
        self.type = type
        self.mediaType = mediaType
        self.deviceSent = deviceSent
    }
}

/// What the server's ack said about a sent message.
public struct SentMessage: Sendable, Equatable {
    public var id: String
    /// The chat the message was addressed to: the recipient's LID user when known.
    public var chat: JID
    /// The ack's `t`, or the local time when it had none.
    public var timestamp: Date
    /// Every device the message was encrypted for.
    public var devices: [JID]
    /// Whether the ack's `phash` matched the device list used; nil when the ack had none. A
    /// mismatch drops the cached device lists, so the next message asks again.
    public var participantHashMatched: Bool?

    public init(id: String, chat: JID, timestamp: Date, devices: [JID], participantHashMatched: Bool?) {
        self.id = id
        self.chat = chat
        self.timestamp = timestamp
        self.devices = devices
        self.participantHashMatched = participantHashMatched
    }
}

/// Why a message was not sent, or not confirmed.
public enum SendFailure: Error, Equatable, Sendable {
    /// usync says the phone number has no WhatsApp account.
    case notOnWhatsApp(String)
    /// The client is not logged in and did not log in again within the wait.
    case notLoggedIn
    /// Not one device of the recipient could be encrypted for; nothing was sent.
    case noDeviceEncrypted(String)
    /// The message stanza went out but the server's ack did not come in time: the message may or
    /// may not have reached WhatsApp.
    case ackTimedOut
    /// The server's ack carried `error`.
    case serverError(Int)
    /// A query before sending (usync, prekeys) failed; nothing was sent.
    case query(InfoQueryError)
}
