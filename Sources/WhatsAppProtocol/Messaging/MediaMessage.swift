import Foundation
import SwiftProtobuf

/// The plaintext of a media message as WhatsApp clients write it (whatsmeow upload.go's example,
/// send.go: getTypeFromMessage, getMediaTypeFromMessage): `imageMessage`, `videoMessage`,
/// `audioMessage` or `documentMessage` carrying where the uploaded file is (url, direct path),
/// how to decrypt and check it (media key, SHA-256 of the plain and of the encrypted file,
/// length) and what it is (mime type, caption, file name, size in pixels, `ptt` for a voice
/// note). A document with a caption goes inside `documentWithCaptionMessage`, as WhatsApp's own
/// clients send it. The stanza's type is `media` and each `enc` carries the media type.
public enum MediaMessage {
    /// What the message says about the file besides the upload.
    public struct Description: Sendable, Equatable {
        /// `image`, `video`, `audio` or `document` (the kind the file was encrypted as).
        public var kind: MediaKind
        public var mimeType: String
        public var caption: String?
        /// Shown for documents.
        public var fileName: String?
        public var width: Int?
        public var height: Int?
        /// An audio file played as a voice note (Opus in Ogg).
        public var voiceNote: Bool

        public init(
            kind: MediaKind, mimeType: String, caption: String? = nil, fileName: String? = nil, width: Int? = nil, height: Int? = nil,
            voiceNote: Bool = false
        ) {
            self.kind = kind
            self.mimeType = mimeType
            self.caption = caption
            self.fileName = fileName
            self.width = width
            self.height = height
            self.voiceNote = voiceNote && kind == .audio
        }

        /// The `enc` node's `mediatype` (send.go: getMediaTypeFromMessage).
        public var mediaType: String {
            switch kind {
            case .audio: voiceNote ? "ptt" : "audio"
            case .video: "video"
            case .document: "document"
            case .sticker: "sticker"
            default: "image"
            }
        }
    }

    public static func message(_ file: UploadedMedia, _ description: Description, quoting quote: TextMessage.Quote? = nil) -> WAMessage {
        let caption = description.caption.flatMap { $0.isEmpty ? nil : $0 }
        let context = quote.map(Self.context)
        let keyTime = Int64(file.mediaKeyTimestamp.timeIntervalSince1970)
        var message = WAMessage()
        switch description.kind {
        case .video:
            var video = WAVideoMessage()
            video.describe(file, mimeType: description.mimeType, keyTime: keyTime)
            if let caption { video.caption = caption }
            if let width = description.width, let height = description.height {
                video.width = UInt32(clamping: width)
                video.height = UInt32(clamping: height)
            }
            if let context { video.contextInfo = context }
            message.videoMessage = video
        case .audio:
            var audio = WAAudioMessage()
            audio.describe(file, mimeType: description.mimeType, keyTime: keyTime)
            audio.ptt = description.voiceNote
            if let context { audio.contextInfo = context }
            message.audioMessage = audio
        case .document:
            var document = WADocumentMessage()
            document.describe(file, mimeType: description.mimeType, keyTime: keyTime)
            let name = description.fileName.flatMap { $0.isEmpty ? nil : $0 } ?? "document"
            document.fileName = name
            document.title = name
            if let caption { document.caption = caption }
            if let context { document.contextInfo = context }
            if caption != nil {
                var inner = WAMessage()
                inner.documentMessage = document
                var wrapper = WAFutureProofMessage()
                wrapper.message = inner
                message.documentWithCaptionMessage = wrapper
            } else {
                message.documentMessage = document
            }
        default:
            var image = WAImageMessage()
            image.describe(file, mimeType: description.mimeType, keyTime: keyTime)
            if let caption { image.caption = caption }
            if let width = description.width, let height = description.height {
                image.width = UInt32(clamping: width)
                image.height = UInt32(clamping: height)
            }
            if let context { image.contextInfo = context }
            message.imageMessage = image
        }
        return message
    }

    /// The serialized message and its device-sent copy, ready for `WhatsAppClient.sendMessage`.
    public static func content(_ file: UploadedMedia, _ description: Description, quoting quote: TextMessage.Quote? = nil) throws
        -> OutgoingContent
    {
        let message = message(file, description, quoting: quote)
        let plaintext: Data = try message.serializedBytes()
        return OutgoingContent(plaintext: plaintext, type: "media", mediaType: description.mediaType) { chat in
            (try? TextMessage.deviceSent(message, to: chat).serializedBytes()) ?? Data()
        }
    }

    /// Whether a file's first bytes are an Ogg page opening an Opus stream (RFC 7845: the first
    /// packet is the `OpusHead` identification header), i.e. a voice note WhatsApp can play as one.
    public static func isOggOpus(head: [UInt8]) -> Bool {
        guard head.count >= 27 + 8, head.starts(with: Array("OggS".utf8)) else { return false }
        let segments = Int(head[26])
        let packetStart = 27 + segments
        guard head.count >= packetStart + 8 else { return false }
        return Array(head[packetStart..<packetStart + 8]) == Array("OpusHead".utf8)
    }

    private static func context(_ quote: TextMessage.Quote) -> WAContextInfo {
        var quoted = WAMessage()
        quoted.conversation = quote.text
        var context = WAContextInfo()
        context.stanzaID = quote.stanzaID
        context.participant = quote.participant.description
        context.quotedMessage = quoted
        return context
    }
}

/// The file fields every media message carries, under the same names in each generated type.
protocol MediaFileFields {
    var url: String { get set }
    var directPath: String { get set }
    var mediaKey: Data { get set }
    var fileSha256: Data { get set }
    var fileEncSha256: Data { get set }
    var fileLength: UInt64 { get set }
    var mimetype: String { get set }
    var mediaKeyTimestamp: Int64 { get set }
}

extension MediaFileFields {
    /// Where the uploaded file is, its key and digests, its type and when the key was made.
    mutating func describe(_ file: UploadedMedia, mimeType: String, keyTime: Int64) {
        url = file.url
        directPath = file.directPath
        mediaKey = Data(file.mediaKey)
        fileSha256 = Data(file.digest.fileSHA256)
        fileEncSha256 = Data(file.digest.fileEncSHA256)
        fileLength = UInt64(file.digest.fileLength)
        mimetype = mimeType
        mediaKeyTimestamp = keyTime
    }
}

extension WAImageMessage: MediaFileFields {}
extension WAVideoMessage: MediaFileFields {}
extension WAAudioMessage: MediaFileFields {}
extension WADocumentMessage: MediaFileFields {}
