import BuzzBridgeCore
import Hummingbird

/// Who is calling, once the API key checked out.
public struct Caller: Sendable {
    public var sessionID: SessionID
    public var sessionKind: SessionKind
    public var keyID: String
}

public struct GatewayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var caller: Caller?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
    }

    /// Bodies are small JSON documents; anything larger is refused before it is read.
    public var maxUploadSize: Int { 64 * 1024 }

    func requireCaller() throws(APIError) -> Caller {
        guard let caller else { throw APIError(.unauthorized, "Invalid or missing API key") }
        return caller
    }
}
