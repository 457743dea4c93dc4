import Foundation

/// A file encrypted and stored on WhatsApp's media hosts: everything a media message carries about it.
public struct UploadedMedia: Sendable, Equatable {
    /// The 32 random bytes the file was encrypted with.
    public var mediaKey: [UInt8]
    public var digest: MediaDigest
    public var url: String
    public var directPath: String
    /// When the media key was made (the message's `mediaKeyTimestamp`).
    public var mediaKeyTimestamp: Date

    public init(mediaKey: [UInt8], digest: MediaDigest, url: String, directPath: String, mediaKeyTimestamp: Date) {
        self.mediaKey = mediaKey
        self.digest = digest
        self.url = url
        self.directPath = directPath
        self.mediaKeyTimestamp = mediaKeyTimestamp
    }
}
