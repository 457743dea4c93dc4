/// Why an engine could not fetch the file of an incoming message. A permanent failure (the file
/// is gone, too large, or does not verify) is final; any other may succeed when tried again.
public struct MediaDownloadFailure: Error, Sendable, Equatable {
    public var reason: String
    public var isPermanent: Bool

    public init(reason: String, isPermanent: Bool) {
        self.reason = reason
        self.isPermanent = isPermanent
    }
}

/// Engines whose incoming files are fetched after the message is recorded (the live engine:
/// WhatsApp's media hosts). The gateway queues each `IncomingMedia.Content.remote` file durably
/// and asks the engine for it in the background, retrying what failed for a passing reason.
public protocol RemoteMediaDownloading: Sendable {
    /// Writes the verified, decrypted file that `source` names (opaque: what the engine put in
    /// `.remote(source:size:)`) to `path`. Refuses files over `maximumBytes`. On failure `path`
    /// does not exist.
    func downloadMedia(_ source: String, to path: String, maximumBytes: Int) async throws(MediaDownloadFailure)
}
