import NIOHTTP1

/// The head of a media host's answer to a download: its status and headers.
public struct MediaHostResponseHead: Sendable {
    public var status: Int
    public var headers: HTTPHeaders

    /// The `Content-Length` the host announced, when it announced one.
    public var contentLength: Int? { headers.first(name: "content-length").flatMap { Int($0) } }
}
