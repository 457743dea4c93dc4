/// Why a media file could not be fetched. ``isPermanent`` failures are final (asking again
/// gives the same answer); the others may succeed later.
public enum MediaDownloadError: Error, Sendable, Equatable {
    /// The file is larger than the caller accepts (from the message's length, before any byte).
    case tooLarge(length: Int, limit: Int)
    /// A media host answered 403, 404 or 410: the file is gone or the path is not valid
    /// (whatsmeow download.go stops at these too).
    case unavailable(status: Int)
    /// The bytes do not verify (MAC, hashes, length, padding): tampered or not this message's file.
    case verification(MediaCryptoError)
    /// The message names no usable path or URL.
    case noLocation
    /// Every host failed with a network error or a status worth retrying (the last one's description).
    case transient(String)
    /// The destination file could not be written.
    case local(String)

    public var isPermanent: Bool {
        switch self {
        case .tooLarge, .unavailable, .verification, .noLocation: true
        case .transient, .local: false
        }
    }
}
