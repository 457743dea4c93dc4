/// What a WhatsApp media file is, as far as its encryption and its upload path are concerned.
///
/// Each kind expands the media key with its own HKDF info string, so a key can never decrypt a
/// file of another kind; stickers share the image keys and voice notes the audio keys.
public enum MediaKind: String, Sendable, CaseIterable {
    case image, video, audio, document, sticker
    case history, appState, stickerPack, linkThumbnail

    /// The HKDF-SHA256 info string that expands the media key (whatsmeow download.go, Baileys' MEDIA_HKDF_KEY_MAPPING).
    public var hkdfInfo: String {
        switch self {
        case .image, .sticker: "WhatsApp Image Keys"
        case .video: "WhatsApp Video Keys"
        case .audio: "WhatsApp Audio Keys"
        case .document: "WhatsApp Document Keys"
        case .history: "WhatsApp History Keys"
        case .appState: "WhatsApp App State Keys"
        case .stickerPack: "WhatsApp Sticker Pack Keys"
        case .linkThumbnail: "WhatsApp Link Thumbnail Keys"
        }
    }

    /// The `mms-type` of upload and download URLs.
    public var mmsType: String {
        switch self {
        case .image, .sticker: "image"
        case .video: "video"
        case .audio: "audio"
        case .document: "document"
        case .history: "md-msg-hist"
        case .appState: "md-app-state"
        case .stickerPack: "sticker-pack"
        case .linkThumbnail: "thumbnail-link"
        }
    }
}
