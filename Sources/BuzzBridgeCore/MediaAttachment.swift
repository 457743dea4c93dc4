/// Where a message's file stands: an incoming file may still be on its way from WhatsApp.
public enum MediaStatus: String, Sendable, Codable, CaseIterable {
    /// Announced by WhatsApp, not fetched yet.
    case pending
    /// Being fetched.
    case downloading
    /// Stored and served by `GET /api/media/{id}`.
    case ready
    /// Could not be fetched or did not verify; never served.
    case failed
}

/// The file of an image, video, audio or document message (the message's `type` says which;
/// its caption is the message's text).
public struct MediaAttachment: Sendable, Equatable {
    public var mimeType: String
    public var fileName: String?
    /// Bytes, once known.
    public var size: Int?
    /// Pixels, for images (and video, when known).
    public var width: Int?
    public var height: Int?
    public var status: MediaStatus
    /// SHA-256 (lower-case hex) of the stored file: its name in the blob store. Nil until stored.
    public var blobHash: String?
    /// While an incoming file waits to be fetched: what the engine needs to fetch it (opaque to
    /// the gateway, as secret as the message). Kept with the message so that a download pending
    /// at a crash resumes after the restart; cleared once the file is ready or failed for good.
    public var downloadSource: String?

    public init(
        mimeType: String, fileName: String? = nil, size: Int? = nil, width: Int? = nil, height: Int? = nil, status: MediaStatus,
        blobHash: String? = nil, downloadSource: String? = nil
    ) {
        self.mimeType = mimeType
        self.fileName = fileName
        self.size = size
        self.width = width
        self.height = height
        self.status = status
        self.blobHash = blobHash
        self.downloadSource = downloadSource
    }

    public var isReady: Bool { status == .ready && blobHash != nil }
}
