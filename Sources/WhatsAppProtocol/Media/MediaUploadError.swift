/// Why a file could not be uploaded; nothing is sent then.
public enum MediaUploadError: Error, Sendable, Equatable {
    /// The media host answered with an error status (whatsmeow: "upload failed with status code N").
    case refused(host: String, status: Int)
    /// The host's `200` answer did not say where the file is.
    case malformedAnswer(String)
    /// The host could not be reached or the connection broke.
    case unreachable(host: String, reason: String)
    /// The file read back for the upload was not the file read first (its length or hash changed).
    case fileChanged
    /// The file could not be read.
    case unreadable(String)
}
