import Foundation

/// What a media message (image, video, audio, document, sticker) names of its file: where it
/// is on the media hosts, the key that decrypts it, the digests that verify it, and the facts a
/// gateway shows about it.
///
/// Codable so that a download can be queued durably and resumed after a restart; the media key
/// is as secret as the message itself.
public struct DownloadableMedia: Sendable, Equatable, Codable {
    public var kind: MediaKind
    /// Path and query on a media host (starts with `/`; already carries a `?…` query).
    public var directPath: String
    /// The full URL the sender got from its upload (older messages carry only this).
    public var url: String?
    public var mediaKey: [UInt8]
    public var fileSHA256: [UInt8]
    public var fileEncSHA256: [UInt8]
    /// Bytes of the plain file.
    public var fileLength: Int
    public var mimeType: String?
    public var fileName: String?
    public var width: Int?
    public var height: Int?
    /// Voice note (audio sent with `ptt`).
    public var isVoiceNote: Bool

    public init(
        kind: MediaKind, directPath: String, url: String? = nil, mediaKey: [UInt8], fileSHA256: [UInt8], fileEncSHA256: [UInt8],
        fileLength: Int, mimeType: String? = nil, fileName: String? = nil, width: Int? = nil, height: Int? = nil, isVoiceNote: Bool = false
    ) {
        self.kind = kind
        self.directPath = directPath
        self.url = url
        self.mediaKey = mediaKey
        self.fileSHA256 = fileSHA256
        self.fileEncSHA256 = fileEncSHA256
        self.fileLength = fileLength
        self.mimeType = mimeType
        self.fileName = fileName
        self.width = width
        self.height = height
        self.isVoiceNote = isVoiceNote
    }

    public var digest: MediaDigest { MediaDigest(fileSHA256: fileSHA256, fileEncSHA256: fileEncSHA256, fileLength: fileLength) }

    /// The download URL on `host` (whatsmeow download.go: DownloadMediaWithPath):
    /// `https://HOST{directPath}&hash={URL-safe base64 with padding of fileEncSHA256}&mms-type={type}&__wa-mms=`.
    public func downloadURL(host: String) -> String {
        let hash = Data(fileEncSHA256).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        let encodedHash = hash.replacingOccurrences(of: "=", with: "%3D")
        let separator = directPath.contains("?") ? "&" : "?"
        return "https://\(host)\(directPath)\(separator)hash=\(encodedHash)&mms-type=\(kind.mmsType)&__wa-mms="
    }

    /// The URLs to try, in order: the direct path on each media host, or the message's own URL
    /// when it has no direct path.
    public func downloadURLs(hosts: [String]) -> [String] {
        if directPath.isEmpty { return url.map { [$0] } ?? [] }
        return hosts.map(downloadURL(host:))
    }

    /// The file of `message` (wrappers looked through), when it is a media message with
    /// everything a download needs: a 32-byte media key, both digests and a path or URL.
    public init?(of message: WAMessage) {
        let message = MessageContent.unwrapped(message)
        if message.hasImageMessage {
            let media = message.imageMessage
            self.init(
                kind: .image, media.directPath, media.url, media.mediaKey, media.fileSha256, media.fileEncSha256, media.fileLength,
                mimeType: media.mimetype, width: media.hasWidth ? Int(media.width) : nil, height: media.hasHeight ? Int(media.height) : nil)
        } else if message.hasVideoMessage || message.hasPtvMessage {
            let media = message.hasVideoMessage ? message.videoMessage : message.ptvMessage
            self.init(
                kind: .video, media.directPath, media.url, media.mediaKey, media.fileSha256, media.fileEncSha256, media.fileLength,
                mimeType: media.mimetype, width: media.hasWidth ? Int(media.width) : nil, height: media.hasHeight ? Int(media.height) : nil)
        } else if message.hasAudioMessage {
            let media = message.audioMessage
            self.init(
                kind: .audio, media.directPath, media.url, media.mediaKey, media.fileSha256, media.fileEncSha256, media.fileLength,
                mimeType: media.mimetype, isVoiceNote: media.ptt)
        } else if message.hasDocumentMessage {
            let media = message.documentMessage
            self.init(
                kind: .document, media.directPath, media.url, media.mediaKey, media.fileSha256, media.fileEncSha256, media.fileLength,
                mimeType: media.mimetype, fileName: media.hasFileName ? media.fileName : media.hasTitle ? media.title : nil)
        } else if message.hasStickerMessage {
            let media = message.stickerMessage
            self.init(
                kind: .sticker, media.directPath, media.url, media.mediaKey, media.fileSha256, media.fileEncSha256, media.fileLength,
                mimeType: media.mimetype, width: media.hasWidth ? Int(media.width) : nil, height: media.hasHeight ? Int(media.height) : nil)
        } else {
            return nil
        }
    }

    private init?(
        kind: MediaKind, _ directPath: String, _ url: String, _ mediaKey: Data, _ fileSHA256: Data, _ fileEncSHA256: Data, _ fileLength: UInt64,
        mimeType: String, fileName: String? = nil, width: Int? = nil, height: Int? = nil, isVoiceNote: Bool = false
    ) {
        guard mediaKey.count == MediaKeys.mediaKeyLength, fileSHA256.count == 32, fileEncSHA256.count == 32,
            directPath.hasPrefix("/") || url.hasPrefix("https://"), fileLength <= UInt64(Int.max)
        else { return nil }
        self.init(
            kind: kind, directPath: directPath.hasPrefix("/") ? directPath : "", url: url.isEmpty ? nil : url, mediaKey: Array(mediaKey),
            fileSHA256: Array(fileSHA256), fileEncSHA256: Array(fileEncSHA256), fileLength: Int(fileLength),
            mimeType: mimeType.isEmpty ? nil : mimeType, fileName: fileName?.isEmpty == true ? nil : fileName, width: width, height: height,
            isVoiceNote: isVoiceNote)
    }
}

extension MediaKind: Codable {}
