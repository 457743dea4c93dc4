/// Limits on the files clients send.
public struct MediaConfiguration: Sendable {
    /// The largest file accepted, in bytes, however it arrives (data, URL or upload).
    public var maximumFileSize: Int
    /// How long fetching a `media.url` may take, from connecting to the last byte.
    public var fetchTimeout: Duration
    /// The longest lifetime a signed media link may be given.
    public var maximumLinkLifetime: Duration
    /// Prefixed to `media_url` (e.g. `https://bridge.example.com`); empty leaves it a path.
    public var publicBaseURL: String
    /// How many incoming files (live sessions) are fetched from WhatsApp at once.
    public var downloadConcurrency: Int

    public static let defaultMaximumFileSize = 64 * 1024 * 1024

    public init(
        maximumFileSize: Int = defaultMaximumFileSize, fetchTimeout: Duration = .seconds(30), maximumLinkLifetime: Duration = .seconds(7 * 86_400),
        publicBaseURL: String = "", downloadConcurrency: Int = 4
    ) {
        self.downloadConcurrency = downloadConcurrency
        self.maximumFileSize = maximumFileSize
        self.fetchTimeout = fetchTimeout
        self.maximumLinkLifetime = maximumLinkLifetime
        self.publicBaseURL = publicBaseURL
    }
}
