import BuzzBridgeCore
import BuzzBridgeGateway
import BuzzBridgeStorage
import Foundation
import NIOHTTP1
import Testing

@Suite("API key scopes, per-key limits, expiry and rotation")
struct ScopeAndKeyTests {
    @Test func aKeyWithoutTheScopeIsForbidden() async throws {
        let gateway = try await ConfiguredGateway.start()
        let provisioning = Provisioning(store: gateway.store)
        let session = SessionID(rawValue: gateway.sessionID)
        let reader = try await provisioning.issueKey(for: session, label: "reader", scopes: [.messagesRead]).plaintext
        let sender = try await provisioning.issueKey(for: session, label: "sender", scopes: [.messagesSend]).plaintext
        let manager = try await provisioning.issueKey(for: session, label: "manager", scopes: [.sessionManage]).plaintext

        let cases: [(method: HTTPMethodName, path: String, scope: String)] = [
            (.get, "/api/messages", "messages:read"), (.get, "/api/conversations/+60123456789", "messages:read"),
            (.post, "/api/messages/msg_x/read", "messages:read"), (.post, "/api/messages/send", "messages:send"),
            (.get, "/api/qr", "session:manage"), (.get, "/api/session/status", "session:manage"),
            (.post, "/api/session/disconnect", "session:manage"), (.post, "/api/sandbox/scan", "session:manage"),
        ]
        for (key, scope) in [(reader, "messages:read"), (sender, "messages:send"), (manager, "session:manage")] {
            for endpoint in cases {
                let reply = try await gateway.request(
                    endpoint.method.nio, endpoint.path, bearer: key,
                    body: endpoint.method == .post ? #"{"phone":"+60123456789","message":"hi"}"# : nil
                )
                if endpoint.scope == scope {
                    #expect(reply.status != 403, "\(scope) key on \(endpoint.path): \(reply.text)")
                } else {
                    #expect(reply.status == 403, "\(scope) key on \(endpoint.path)")
                    #expect(reply.errorCode == "FORBIDDEN", "\(scope) key on \(endpoint.path)")
                    #expect(reply.errorDetails["scope"]?.hasPrefix(endpoint.scope) == true, "\(endpoint.path)")
                    // A refusal still carries the key's budget.
                    #expect(reply.header("X-RateLimit-Remaining") != nil)
                }
            }
        }
        // The first-start key predates any choice and holds every scope.
        #expect(try await gateway.request(.GET, "/api/messages", bearer: gateway.apiKey).status == 200)
        #expect(try await gateway.request(.GET, "/api/session/status", bearer: gateway.apiKey).status == 200)
        try await gateway.discard()
    }

    @Test func aKeyCarriesItsOwnRateLimit() async throws {
        let gateway = try await ConfiguredGateway.start()
        let limited = try await Provisioning(store: gateway.store).issueKey(
            for: SessionID(rawValue: gateway.sessionID), label: "tight", requestsPerMinute: 2
        ).plaintext
        for remaining in [1, 0] {
            let reply = try await gateway.request(.GET, "/api/messages", bearer: limited)
            #expect(reply.status == 200)
            #expect(reply.header("X-RateLimit-Limit") == "2")
            #expect(reply.header("X-RateLimit-Remaining") == "\(remaining)")
        }
        #expect(try await gateway.request(.GET, "/api/messages", bearer: limited).status == 429)
        // The instance default still applies to the other key.
        #expect(try await gateway.request(.GET, "/api/messages", bearer: gateway.apiKey).header("X-RateLimit-Limit") == "100")
        try await gateway.discard()
    }

    @Test func expiredKeysStopWorkingAndEveryKeyShowsItsDates() async throws {
        let gateway = try await ConfiguredGateway.start()
        let provisioning = Provisioning(store: gateway.store)
        let session = SessionID(rawValue: gateway.sessionID)
        let past = Timestamp(millisecondsSinceEpoch: Timestamp.now().millisecondsSinceEpoch - 1000)
        let future = Timestamp(millisecondsSinceEpoch: Timestamp.now().millisecondsSinceEpoch + 86_400_000)
        let expired = try await provisioning.issueKey(for: session, label: "old", expiresAt: past).plaintext
        let valid = try await provisioning.issueKey(for: session, label: "new", expiresAt: future)
        let reply = try await gateway.request(.GET, "/api/messages", bearer: expired)
        #expect(reply.status == 401)
        #expect(reply.errorCode == "UNAUTHORIZED")
        #expect(try await gateway.request(.GET, "/api/messages", bearer: valid.plaintext).status == 200)

        let stored = try #require(try await gateway.store.apiKey(id: valid.record.id))
        #expect(stored.expiresAt == future)
        #expect(stored.scopes == Set(APIKeyScope.allCases))
        #expect(stored.lastUsedAt != nil)
        try await gateway.discard()
    }

    @Test func rotationKeepsScopesAndLimitAndHasNoGap() async throws {
        let gateway = try await ConfiguredGateway.start()
        let provisioning = Provisioning(store: gateway.store)
        let old = try await provisioning.issueKey(
            for: SessionID(rawValue: gateway.sessionID), label: "ofys", scopes: [.messagesRead, .messagesSend], requestsPerMinute: 50
        )
        // Step 1: a new key; both work.
        let new = try await provisioning.issueKey(
            for: old.record.sessionID, label: "ofys 2", scopes: old.record.scopes, requestsPerMinute: old.record.requestsPerMinute
        )
        #expect(try await gateway.request(.GET, "/api/messages", bearer: old.plaintext).status == 200)
        #expect(try await gateway.request(.GET, "/api/messages", bearer: new.plaintext).status == 200)
        // Step 2: revoke the old one.
        #expect(try await provisioning.revokeKey(old.record.id))
        #expect(try await gateway.request(.GET, "/api/messages", bearer: old.plaintext).status == 401)
        #expect(try await gateway.request(.GET, "/api/messages", bearer: new.plaintext).status == 200)

        let regenerated = try await provisioning.regenerateKey(new.record.id)
        #expect(regenerated.record.scopes == [.messagesRead, .messagesSend])
        #expect(regenerated.record.requestsPerMinute == 50)
        #expect(try await gateway.request(.GET, "/api/messages", bearer: regenerated.plaintext).header("X-RateLimit-Limit") == "50")
        #expect(try await gateway.request(.GET, "/api/messages", bearer: new.plaintext).status == 401)
        try await gateway.discard()
    }
}

/// Methods the scope table is written for.
enum HTTPMethodName: Equatable {
    case get, post
    var nio: HTTPMethod { self == .get ? .GET : .POST }
}
