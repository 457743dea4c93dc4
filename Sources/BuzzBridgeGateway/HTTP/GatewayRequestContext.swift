import BuzzBridgeCore
import BuzzBridgeStorage
import Hummingbird
import NIOCore

/// Who is calling, once the API key checked out.
public struct Caller: Sendable {
    public var sessionID: SessionID
    public var sessionKind: SessionKind
    public var keyID: String
    /// The key's own requests-per-minute limit; nil means the instance default.
    public var requestsPerMinute: Int? = nil
    public var scopes: Set<APIKeyScope> = Set(APIKeyScope.allCases)
}

public struct GatewayRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var caller: Caller?
    /// The TCP peer; behind a trusted proxy see ``ClientAddress``.
    public let remoteAddress: SocketAddress?
    /// In the admin panel, once logged in: the login's CSRF token and its cookie.
    var adminCSRF: String?
    var adminSessionCookie: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }

    /// Bodies are small JSON documents; anything larger is refused before it is read.
    public var maxUploadSize: Int { 64 * 1024 }

    func requireCaller() throws(APIError) -> Caller {
        guard let caller else { throw APIError(.unauthorized, "Invalid or missing API key") }
        return caller
    }
}
