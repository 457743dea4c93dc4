import BuzzBridgeCore
import BuzzBridgeStorage
import Crypto
import Foundation
import _CryptoExtras

/// The admin panel's password, kept as a PBKDF2-SHA256 hash in the instance settings:
/// `pbkdf2-sha256$<rounds>$<salt, base64>$<hash, base64>`. The round count travels with the
/// hash, so it can be raised later without invalidating stored passwords.
public struct AdminPassword: Sendable {
    public let store: any GatewayStore
    static let setting = "admin_password_pbkdf2"
    static let scheme = "pbkdf2-sha256"
    /// OWASP's 2023 figure for PBKDF2-HMAC-SHA256.
    static let rounds = 600_000
    public static let minimumLength = 10

    public init(store: any GatewayStore) {
        self.store = store
    }

    public func isSet() async throws -> Bool {
        try await store.setting(Self.setting) != nil
    }

    public func set(_ password: String) async throws {
        guard password.count >= Self.minimumLength else { throw AdminPasswordError.tooShort(minimum: Self.minimumLength) }
        let salt = Array(SymmetricKey(size: .bits128).withUnsafeBytes { Data($0) })
        try await store.setSetting(Self.setting, to: try await Self.hash(password, salt: salt, rounds: Self.rounds))
    }

    /// First start: a random password, returned so that it can be shown once; nil when one exists.
    public func ensure() async throws -> String? {
        guard try await !isSet() else { return nil }
        let password = RandomToken.base62(length: 20)
        try await set(password)
        return password
    }

    public func verify(_ candidate: String) async throws -> Bool {
        guard let stored = try await store.setting(Self.setting) else { return false }
        let parts = stored.split(separator: "$").map(String.init)
        guard parts.count == 4, parts[0] == Self.scheme, let rounds = Int(parts[1]),
            let salt = Data(base64Encoded: parts[2]), let expected = Data(base64Encoded: parts[3])
        else { return false }
        let derived = try await Self.derive(candidate, salt: Array(salt), rounds: rounds, length: expected.count)
        return APIKeyFormat.constantTimeEquals(derived, Array(expected))
    }

    static func hash(_ password: String, salt: [UInt8], rounds: Int) async throws -> String {
        let derived = try await derive(password, salt: salt, rounds: rounds, length: 32)
        return [scheme, String(rounds), Data(salt).base64EncodedString(), Data(derived).base64EncodedString()].joined(separator: "$")
    }

    /// Runs on a thread of its own: 600,000 rounds take a tenth of a second of CPU. Not on an event
    /// loop (every other connection of that loop would wait), and not on NIO's shared thread pool,
    /// where the media blob store's file I/O would queue behind every login (a burst of logins
    /// held a media send past its deadline once). Logins are few: they are rate-limited per client
    /// address and bounded by the connection cap.
    static func derive(_ password: String, salt: [UInt8], rounds: Int, length: Int) async throws -> [UInt8] {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(
                    with: Result {
                        let key = try KDF.Insecure.PBKDF2.deriveKey(
                            from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: length, rounds: rounds
                        )
                        return key.withUnsafeBytes { Array($0) }
                    })
            }
            thread.start()
        }
    }
}

public enum AdminPasswordError: Error, Sendable, Equatable, CustomStringConvertible {
    case tooShort(minimum: Int)

    public var description: String {
        switch self {
        case .tooShort(let minimum): "the admin password must have at least \(minimum) characters"
        }
    }
}
