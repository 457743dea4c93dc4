import Foundation
import SwiftProtobuf

/// The plaintext of a text message as WhatsApp clients write it: `conversation` for plain text,
/// `extendedTextMessage` with a `contextInfo` for a reply (stanza id, the quoted sender, the
/// quoted text), and the `deviceSentMessage` copy for the account's own devices (whatsmeow
/// send.go: marshalMessage; message.go reads the same fields).
public enum TextMessage {
    /// What a reply quotes.
    public struct Quote: Sendable, Equatable {
        /// The quoted message's id.
        public var stanzaID: String
        /// Who wrote the quoted message (user JID, no device).
        public var participant: JID
        public var text: String

        public init(stanzaID: String, participant: JID, text: String) {
            self.stanzaID = stanzaID
            self.participant = participant.withoutDevice
            self.text = text
        }
    }

    public static func message(_ text: String, quoting quote: Quote? = nil) -> WAMessage {
        var message = WAMessage()
        guard let quote else {
            message.conversation = text
            return message
        }
        var quoted = WAMessage()
        quoted.conversation = quote.text
        var context = WAContextInfo()
        context.stanzaID = quote.stanzaID
        context.participant = quote.participant.description
        context.quotedMessage = quoted
        var extended = WAExtendedTextMessage()
        extended.text = text
        extended.contextInfo = context
        message.extendedTextMessage = extended
        return message
    }

    /// `message` wrapped for the own devices: `deviceSentMessage { destinationJid: chat, message }`
    /// with the message's context info beside it.
    public static func deviceSent(_ message: WAMessage, to chat: JID) -> WAMessage {
        var sent = WADeviceSentMessage()
        sent.destinationJid = chat.withoutDevice.description
        sent.message = message
        var wrapper = WAMessage()
        wrapper.deviceSentMessage = sent
        if message.hasMessageContextInfo { wrapper.messageContextInfo = message.messageContextInfo }
        return wrapper
    }

    /// The serialized message and its device-sent copy, ready for `WhatsAppClient.sendMessage`.
    public static func content(_ text: String, quoting quote: Quote? = nil) throws -> OutgoingContent {
        let message = message(text, quoting: quote)
        let plaintext: Data = try message.serializedBytes()
        return OutgoingContent(plaintext: plaintext, type: "text") { chat in
            (try? deviceSent(message, to: chat).serializedBytes()) ?? Data()
        }
    }
}
