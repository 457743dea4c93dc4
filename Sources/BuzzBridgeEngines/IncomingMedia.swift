import BuzzBridgeCore

/// The file of an incoming media message, as the engine hands it to the gateway, which stores it
/// in its blob store and serves it from `GET /api/media/{id}`.
public struct IncomingMedia: Sendable, Equatable {
    /// The file itself, when the engine has it.
    public enum Content: Sendable, Equatable {
        case bytes([UInt8])
        /// A file the engine wrote (already verified and decrypted); the gateway moves it into
        /// its blob store, so it is gone afterwards.
        case file(path: String)
        /// Already in the gateway's blob store (the sandbox's injected files): its SHA-256 and length.
        case stored(sha256: String, size: Int)
        /// Not fetched yet: the message is stored with `media_status: pending`.
        case pending
        /// On WhatsApp's media hosts: the message is stored `pending` with `source` (opaque to the
        /// gateway; it may hold the file's key, so it is as secret as the message) and the size the
        /// message announced; the gateway then asks the engine (``RemoteMediaDownloading``) for it.
        case remote(source: String, size: Int)
        /// The message names no file that can be fetched: stored `failed`.
        case unavailable
    }

    public var mimeType: String
    public var fileName: String?
    public var width: Int?
    public var height: Int?
    public var content: Content

    public init(mimeType: String, fileName: String? = nil, width: Int? = nil, height: Int? = nil, content: Content) {
        self.mimeType = mimeType
        self.fileName = fileName
        self.width = width
        self.height = height
        self.content = content
    }
}
