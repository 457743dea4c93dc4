import BuzzBridgeCore
import Crypto
import Foundation
import Synchronization

/// Logged-in admin panel browsers. Each login gets a random session id (the cookie) and its own
/// CSRF token, which every form carries back; both live in memory only, so a restart logs
/// everyone out, which is acceptable for an operator's panel.
final class AdminPanelSessions: Sendable {
    struct Login: Sendable {
        let csrfToken: String
        var expiresAt: Date
    }

    /// Idle time after which a login ends.
    let idleTimeout: TimeInterval
    private let logins = Mutex<[String: Login]>([:])

    init(idleTimeout: TimeInterval = 8 * 3600) {
        self.idleTimeout = idleTimeout
    }

    /// Starts a login; returns the cookie value.
    func start() -> String {
        let id = RandomToken.base62(length: 43)
        let now = Date()
        logins.withLock { logins in
            logins = logins.filter { $0.value.expiresAt > now }
            logins[id] = Login(csrfToken: RandomToken.base62(length: 43), expiresAt: now + idleTimeout)
        }
        return id
    }

    /// The login behind a cookie, its idle timer restarted; nil when unknown or expired.
    func login(_ id: String) -> Login? {
        let now = Date()
        return logins.withLock { logins in
            guard var login = logins[id], login.expiresAt > now else {
                logins[id] = nil
                return nil
            }
            login.expiresAt = now + idleTimeout
            logins[id] = login
            return login
        }
    }

    func end(_ id: String) {
        logins.withLock { _ = $0.removeValue(forKey: id) }
    }

    /// Compares in constant time: the token is a secret an attacker would like to guess.
    static func tokensMatch(_ lhs: String, _ rhs: String) -> Bool {
        APIKeyFormat.constantTimeEquals(Array(SHA256.hash(data: Array(lhs.utf8))), Array(SHA256.hash(data: Array(rhs.utf8))))
    }
}
