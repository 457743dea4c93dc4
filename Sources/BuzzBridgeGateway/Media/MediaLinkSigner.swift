import BuzzBridgeCore
import BuzzBridgeStorage
import Crypto
import Foundation
import Synchronization

/// Signs and checks the links that serve a message's file without an API key:
/// `/api/media/{id}?expires={unix seconds}&sig={hex HMAC-SHA256}` over the message id and the
/// expiry, under a secret made on first use and kept in the store (so links survive restarts and
/// every instance on the same database accepts them).
final class MediaLinkSigner: Sendable {
    static let settingKey = "media_link_secret"
    private let store: any GatewayStore
    private let cachedSecret = Mutex<SymmetricKey?>(nil)

    init(store: any GatewayStore) {
        self.store = store
    }

    private func secret() async throws -> SymmetricKey {
        if let key = cachedSecret.withLock({ $0 }) { return key }
        var stored = try await store.setting(Self.settingKey)
        if stored == nil {
            let fresh = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
            try await store.setSetting(Self.settingKey, to: fresh)
            stored = fresh
        }
        guard let stored, let bytes = Data(base64Encoded: stored) else { throw APIError(.internalError, "Internal server error") }
        let key = SymmetricKey(data: bytes)
        cachedSecret.withLock { $0 = key }
        return key
    }

    private func signature(_ id: MessageID, expires: Int64) async throws -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array("\(id.rawValue)\n\(expires)".utf8), using: try await secret()))
    }

    /// The path and query of a link to `id`'s file valid until `expires`.
    func link(to id: MessageID, expires: Timestamp) async throws -> String {
        let seconds = expires.millisecondsSinceEpoch / 1000
        let sig = try await signature(id, expires: seconds).map { String(format: "%02x", $0) }.joined()
        return Message.mediaPath(of: id) + "?expires=\(seconds)&sig=\(sig)"
    }

    enum Verdict: Equatable { case valid, expired, invalid }

    func check(_ id: MessageID, expires: String?, sig: String?, now: Timestamp = .now()) async throws -> Verdict {
        guard let expires, let seconds = Int64(expires), let sig else { return .invalid }
        let digits = Array(sig.utf8).compactMap { byte -> UInt8? in
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            default: nil
            }
        }
        guard digits.count == 64, sig.utf8.count == 64 else { return .invalid }
        let given = stride(from: 0, to: 64, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
        let expected = try await signature(id, expires: seconds)
        var difference: UInt8 = given.count == expected.count ? 0 : 1
        for (a, b) in zip(given, expected) { difference |= a ^ b }
        guard difference == 0 else { return .invalid }
        return seconds > now.millisecondsSinceEpoch / 1000 ? .valid : .expired
    }
}
