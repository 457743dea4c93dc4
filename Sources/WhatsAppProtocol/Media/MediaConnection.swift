import Foundation

/// The media hosts and upload credential the server hands out (whatsmeow mediaconn.go:
/// queryMediaConn): `<iq xmlns="w:m" type="set" to="s.whatsapp.net"><media_conn/></iq>` is answered by
/// `<media_conn auth ttl auth_ttl max_buckets><host hostname/>…</media_conn>`.
///
/// Guarantees: a parsed connection has at least one host and all four attributes (whatsmeow refuses
/// an answer without any of them, so the double and the real server always send them); it is valid
/// from `fetchedAt` for `ttl` seconds, after which it must be asked for again.
public struct MediaConnection: Sendable, Equatable {
    /// Hosts to download from (in this order) and to upload to (the first).
    public var hosts: [String]
    /// The `auth` query parameter of uploads.
    public var auth: String
    /// Seconds this answer may be used for.
    public var ttl: Int
    /// Seconds the `auth` token stays valid.
    public var authTTL: Int
    public var maxBuckets: Int
    public var fetchedAt: Date

    public init(hosts: [String], auth: String, ttl: Int, authTTL: Int, maxBuckets: Int, fetchedAt: Date) {
        self.hosts = hosts
        self.auth = auth
        self.ttl = ttl
        self.authTTL = authTTL
        self.maxBuckets = maxBuckets
        self.fetchedAt = fetchedAt
    }

    /// The request.
    public static let query = InfoQuery(namespace: "w:m", kind: .set, to: .server, content: [BinaryNode(tag: "media_conn")])

    /// Parses the answer to ``query``, fetched at `fetchedAt`.
    public init(answer: BinaryNode, fetchedAt: Date) throws(MediaConnectionError) {
        guard let node = answer.children.first, node.tag == "media_conn" else { throw .missingMediaConn }
        func integer(_ name: String) throws(MediaConnectionError) -> Int {
            guard let text = node.attributes.string(name), let value = Int(text) else { throw .missingAttribute(name) }
            return value
        }
        guard let auth = node.attributes.string("auth") else { throw .missingAttribute("auth") }
        let hosts = node.children.filter { $0.tag == "host" }.compactMap { $0.attributes.string("hostname") }.filter { !$0.isEmpty }
        guard !hosts.isEmpty else { throw .noHosts }
        self.init(
            hosts: hosts, auth: auth, ttl: try integer("ttl"), authTTL: try integer("auth_ttl"), maxBuckets: try integer("max_buckets"),
            fetchedAt: fetchedAt
        )
    }

    /// When this answer must no longer be used (whatsmeow: `FetchedAt + TTL`).
    public var expiresAt: Date { fetchedAt.addingTimeInterval(TimeInterval(ttl)) }

    public func isValid(at now: Date) -> Bool { now < expiresAt }
}

/// Why a `media_conn` answer could not be used.
public enum MediaConnectionError: Error, Sendable, Equatable {
    /// The result has no `media_conn` child.
    case missingMediaConn
    /// One of `auth`, `ttl`, `auth_ttl`, `max_buckets` is absent or not a number.
    case missingAttribute(String)
    /// No `host` child with a hostname.
    case noHosts
}
