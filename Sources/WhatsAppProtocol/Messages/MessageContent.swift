import Foundation

/// What a decrypted message says, reduced to what a gateway shows: its text (or a media
/// caption), the kind of media, and the message it quotes.
public struct MessageContent: Sendable, Equatable {
    public enum MediaKind: String, Sendable, Equatable {
        case image, video, audio, document, sticker
    }

    public struct Quote: Sendable, Equatable {
        /// The quoted message's WhatsApp id (`stanzaId`).
        public var id: String
        /// Who sent the quoted message, as the quoting client wrote it (may be a LID).
        public var participant: JID?
        /// The quoted message's text or caption, when the quote carries it.
        public var text: String?

        public init(id: String, participant: JID?, text: String?) {
            self.id = id
            self.participant = participant
            self.text = text
        }
    }

    /// The text, or the media's caption ("" for media without one).
    public var text: String
    public var media: MediaKind?
    public var quote: Quote?
    /// The media's file: where it is, its key and digests, and what it is (nil for text, or
    /// for media missing what a download needs).
    public var file: DownloadableMedia?

    public init(text: String, media: MediaKind? = nil, quote: Quote? = nil, file: DownloadableMedia? = nil) {
        self.text = text
        self.media = media
        self.quote = quote
        self.file = file
    }

    /// The content of `message`, looking through the wrappers WhatsApp puts around it (a
    /// device-sent copy, ephemeral, view-once, a document with caption); nil for messages
    /// without anything to show (sender-key distribution, protocol messages, reactions).
    public init?(of message: WAMessage) {
        let message = Self.unwrapped(message)
        if message.hasExtendedTextMessage {
            let extended = message.extendedTextMessage
            self.init(text: extended.text, quote: Self.quote(extended.hasContextInfo ? extended.contextInfo : nil))
        } else if message.hasConversation {
            self.init(text: message.conversation)
        } else if message.hasImageMessage {
            let media = message.imageMessage
            self.init(text: media.caption, media: .image, quote: Self.quote(media.hasContextInfo ? media.contextInfo : nil))
        } else if message.hasVideoMessage || message.hasPtvMessage {
            let media = message.hasVideoMessage ? message.videoMessage : message.ptvMessage
            self.init(text: media.caption, media: .video, quote: Self.quote(media.hasContextInfo ? media.contextInfo : nil))
        } else if message.hasAudioMessage {
            let media = message.audioMessage
            self.init(text: "", media: .audio, quote: Self.quote(media.hasContextInfo ? media.contextInfo : nil))
        } else if message.hasDocumentMessage {
            let media = message.documentMessage
            self.init(text: media.caption, media: .document, quote: Self.quote(media.hasContextInfo ? media.contextInfo : nil))
        } else if message.hasStickerMessage {
            let media = message.stickerMessage
            self.init(text: "", media: .sticker, quote: Self.quote(media.hasContextInfo ? media.contextInfo : nil))
        } else {
            return nil
        }
        if self.media != nil { file = DownloadableMedia(of: message) }
    }

    /// `message` without its wrappers (whatsmeow types/events: UnwrapRaw).
    public static func unwrapped(_ message: WAMessage) -> WAMessage {
        var message = message
        for _ in 0..<4 {
            if message.hasDeviceSentMessage, message.deviceSentMessage.hasMessage {
                message = message.deviceSentMessage.message
            } else if message.hasEphemeralMessage, message.ephemeralMessage.hasMessage {
                message = message.ephemeralMessage.message
            } else if message.hasViewOnceMessage, message.viewOnceMessage.hasMessage {
                message = message.viewOnceMessage.message
            } else if message.hasViewOnceMessageV2, message.viewOnceMessageV2.hasMessage {
                message = message.viewOnceMessageV2.message
            } else if message.hasDocumentWithCaptionMessage, message.documentWithCaptionMessage.hasMessage {
                message = message.documentWithCaptionMessage.message
            } else {
                break
            }
        }
        return message
    }

    private static func quote(_ context: WAContextInfo?) -> Quote? {
        guard let context, context.hasStanzaID, !context.stanzaID.isEmpty else { return nil }
        let quoted = context.hasQuotedMessage ? MessageContent(of: context.quotedMessage) : nil
        return Quote(
            id: context.stanzaID,
            participant: context.hasParticipant ? try? JID(parsing: context.participant) : nil,
            text: quoted.map(\.text)
        )
    }
}
