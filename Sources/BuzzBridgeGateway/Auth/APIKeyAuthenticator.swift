import BuzzBridgeCore
import BuzzBridgeStorage
import Hummingbird
import Synchronization

/// Checks `Authorization: Bearer <key>` and puts the caller in the request context.
struct APIKeyAuthenticator: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let store: any GatewayStore
    let usage: KeyUsageRecorder
    let failures: FailedAuthLimiter
    let latency: StoreLatency

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let unauthorized = APIError(.unauthorized, "Invalid or missing API key")
        guard let key = BearerToken.token(in: request),
            let (kind, id) = APIKeyFormat.parse(key),
            let record = try await latency.measure(.apiKey, { try await store.apiKey(id: id) }),
            record.revokedAt == nil,
            APIKeyFormat.constantTimeEquals(APIKeyFormat.hash(key), record.secretHash)
        else { throw try await failures.refusal(unauthorized, request: request, context: context) }
        guard !record.isExpired(at: .now()) else {
            throw try await failures.refusal(APIError(.unauthorized, "API key has expired"), request: request, context: context)
        }
        var context = context
        context.caller = Caller(
            sessionID: record.sessionID, sessionKind: kind, keyID: record.id, requestsPerMinute: record.requestsPerMinute, scopes: record.scopes
        )
        context.logger[metadataKey: "session"] = "\(record.sessionID)"
        await usage.note(keyID: record.id, store: store)
        return try await next(request, context)
    }
}

/// Records when each key was last used, at most once a minute per key, so that reads do not
/// turn into a database write per request.
final class KeyUsageRecorder: Sendable {
    private let lastWritten = Mutex<[String: Timestamp]>([:])
    private let interval: Int64 = 60_000

    func note(keyID: String, store: any GatewayStore) async {
        let now = Timestamp.now()
        let due = lastWritten.withLock { written in
            if let last = written[keyID], now.millisecondsSinceEpoch - last.millisecondsSinceEpoch < interval { return false }
            written[keyID] = now
            return true
        }
        if due { try? await store.recordAPIKeyUse(id: keyID, at: now) }
    }
}
