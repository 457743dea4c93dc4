import BuzzBridgeCore
import BuzzBridgeStorage

/// Creates sessions, API keys and the admin token. The server, the admin API and the CLI all
/// provision through this one type.
public struct Provisioning: Sendable {
    public let store: any GatewayStore
    static let adminTokenSetting = "admin_token_sha256"
    static let adminTokenPrefix = "bzb_admin_"

    public init(store: any GatewayStore) {
        self.store = store
    }

    public func createSession(kind: SessionKind, name: String) async throws -> Session {
        let session = Session(id: .generate(), kind: kind, name: name, createdAt: .now())
        try await store.createSession(session)
        return session
    }

    /// Sets a session's name and push name; throws when there is no such session.
    public func updateSession(_ id: SessionID, name: String, pushName: String?) async throws -> Session {
        guard let session = try await store.updateSessionNames(id, name: name, pushName: pushName) else {
            throw ProvisioningError.unknownSession(id)
        }
        return session
    }

    /// A new key; by default with every scope, the instance's rate limit and no expiry.
    public func issueKey(
        for sessionID: SessionID, label: String? = nil, scopes: Set<APIKeyScope> = Set(APIKeyScope.allCases),
        requestsPerMinute: Int? = nil, expiresAt: Timestamp? = nil
    ) async throws -> IssuedAPIKey {
        guard let session = try await store.session(sessionID) else { throw ProvisioningError.unknownSession(sessionID) }
        let issued = APIKeyFormat.issue(
            for: session, label: label, at: .now(), scopes: scopes, requestsPerMinute: requestsPerMinute, expiresAt: expiresAt
        )
        try await store.createAPIKey(issued.record)
        return issued
    }

    /// Revokes `keyID`; returns false when it does not exist or was already revoked.
    public func revokeKey(_ keyID: String) async throws -> Bool {
        try await store.revokeAPIKey(id: keyID, at: .now())
    }

    /// A new key for the same session with the same scopes, limit and expiry, then the old one revoked.
    public func regenerateKey(_ keyID: String) async throws -> IssuedAPIKey {
        guard let old = try await store.apiKey(id: keyID), old.revokedAt == nil else { throw ProvisioningError.unknownKey(keyID) }
        let issued = try await issueKey(
            for: old.sessionID, label: old.label, scopes: old.scopes, requestsPerMinute: old.requestsPerMinute, expiresAt: old.expiresAt
        )
        _ = try await store.revokeAPIKey(id: keyID, at: .now())
        return issued
    }

    public func keys(for sessionID: SessionID) async throws -> [APIKeyRecord] {
        guard try await store.session(sessionID) != nil else { throw ProvisioningError.unknownSession(sessionID) }
        return try await store.apiKeys(session: sessionID)
    }

    /// First start: a sandbox session with a key, so the API can be tried at once. Returns nil
    /// when the instance already has sessions.
    public func firstStart() async throws -> (Session, IssuedAPIKey)? {
        guard try await store.sessions().isEmpty else { return nil }
        let session = try await createSession(kind: .sandbox, name: "BuzzBridge Sandbox")
        return (session, try await issueKey(for: session.id, label: "first start"))
    }

    /// Creates the admin token if there is none yet; returns it only when it was created.
    public func ensureAdminToken() async throws -> String? {
        guard try await store.setting(Self.adminTokenSetting) == nil else { return nil }
        return try await resetAdminToken()
    }

    public func resetAdminToken() async throws -> String {
        let token = Self.adminTokenPrefix + RandomToken.base62(length: 32)
        try await store.setSetting(Self.adminTokenSetting, to: Self.hex(APIKeyFormat.hash(token)))
        return token
    }

    func isAdminToken(_ candidate: String) async throws -> Bool {
        guard candidate.hasPrefix(Self.adminTokenPrefix), let stored = try await store.setting(Self.adminTokenSetting) else { return false }
        return APIKeyFormat.constantTimeEquals(Array(Self.hex(APIKeyFormat.hash(candidate)).utf8), Array(stored.utf8))
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

public enum ProvisioningError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownSession(SessionID)
    case unknownKey(String)

    public var description: String {
        switch self {
        case .unknownSession(let id): "no session \(id)"
        case .unknownKey(let id): "no active API key \(id)"
        }
    }
}

extension APIError {
    /// The one place provisioning errors become API errors (admin API and panel alike).
    init(_ error: ProvisioningError) {
        switch error {
        case .unknownSession(let id): self.init(.notFound, "Session not found", details: ["session_id": id.rawValue])
        case .unknownKey(let id): self.init(.notFound, "API key not found or already revoked", details: ["key_id": id])
        }
    }
}
