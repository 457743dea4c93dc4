/// What an API key may do. Keys made before scopes existed hold all of them.
public enum APIKeyScope: String, Sendable, CaseIterable, Comparable {
    /// `GET /api/messages`, `GET /api/conversations/…`, `POST /api/messages/{id}/read`.
    case messagesRead = "messages:read"
    /// `POST /api/messages/send`.
    case messagesSend = "messages:send"
    /// `GET /api/qr`, `GET /api/session/status`, `POST /api/session/disconnect`, the sandbox controls.
    case sessionManage = "session:manage"

    public static func < (lhs: APIKeyScope, rhs: APIKeyScope) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    /// Parses a space- or comma-separated list; nil when a name is unknown.
    public static func parseList(_ text: String) -> Set<APIKeyScope>? {
        var scopes = Set<APIKeyScope>()
        for name in text.split(whereSeparator: { $0 == " " || $0 == "," }) {
            guard let scope = APIKeyScope(rawValue: String(name)) else { return nil }
            scopes.insert(scope)
        }
        return scopes
    }

    /// The stored form: sorted names, space-separated.
    public static func format(_ scopes: Set<APIKeyScope>) -> String {
        scopes.sorted().map(\.rawValue).joined(separator: " ")
    }
}
