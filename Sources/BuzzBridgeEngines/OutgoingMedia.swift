import BuzzBridgeCore

/// Reads a stored file in pieces, from the start; the gateway's blob store provides it, so that
/// an engine never learns where or how files are kept.
public protocol MediaContentSource: Sendable {
    /// The file's bytes, in pieces of a bounded size.
    func chunks() -> AsyncThrowingStream<[UInt8], any Error>
}

/// The file of an outgoing media message: a reference to the stored blob and what WhatsApp's
/// media message says about it.
public struct OutgoingMedia: Sendable {
    /// `image`, `video`, `audio` or `document`.
    public var type: MessageType
    public var mimeType: String
    public var fileName: String?
    public var size: Int
    /// SHA-256 (lower-case hex) of the file: its name in the blob store.
    public var sha256: String
    public var width: Int?
    public var height: Int?
    public var content: any MediaContentSource

    public init(
        type: MessageType, mimeType: String, fileName: String?, size: Int, sha256: String, width: Int? = nil, height: Int? = nil,
        content: any MediaContentSource
    ) {
        self.type = type
        self.mimeType = mimeType
        self.fileName = fileName
        self.size = size
        self.sha256 = sha256
        self.width = width
        self.height = height
        self.content = content
    }
}

extension OutgoingMedia: Equatable {
    /// Two references are equal when they name the same file with the same facts.
    public static func == (lhs: OutgoingMedia, rhs: OutgoingMedia) -> Bool {
        lhs.type == rhs.type && lhs.mimeType == rhs.mimeType && lhs.fileName == rhs.fileName && lhs.size == rhs.size
            && lhs.sha256 == rhs.sha256 && lhs.width == rhs.width && lhs.height == rhs.height
    }
}
