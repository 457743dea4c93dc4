import BuzzBridgeCore
import BuzzBridgeStorage
import Crypto

/// A key just issued: the only moment its plaintext exists outside the caller's hands.
public struct IssuedAPIKey: Sendable {
    public let plaintext: String
    public let record: APIKeyRecord
}

/// API keys look like `bzb_test_` + 32 base62 characters. The first 12 random characters are the
/// key's public id, used to find its record; the whole key is checked against a SHA-256 hash
/// (keys are random, so a fast unsalted hash is the right tool, as for any bearer token).
enum APIKeyFormat {
    static let randomLength = 32
    static let idLength = 12

    static func issue(
        for session: Session, label: String?, at time: Timestamp, scopes: Set<APIKeyScope> = Set(APIKeyScope.allCases),
        requestsPerMinute: Int? = nil, expiresAt: Timestamp? = nil
    ) -> IssuedAPIKey {
        let random = RandomToken.base62(length: randomLength)
        let plaintext = session.kind.keyPrefix + random
        let record = APIKeyRecord(
            id: String(random.prefix(idLength)), sessionID: session.id, secretHash: hash(plaintext),
            label: label, createdAt: time, scopes: scopes, requestsPerMinute: requestsPerMinute, expiresAt: expiresAt
        )
        return IssuedAPIKey(plaintext: plaintext, record: record)
    }

    /// The key's kind and id, or nil when it is not shaped like one of our keys.
    static func parse(_ key: String) -> (kind: SessionKind, id: String)? {
        for kind in SessionKind.allCases where key.hasPrefix(kind.keyPrefix) {
            let random = key.dropFirst(kind.keyPrefix.count)
            guard random.utf8.count == randomLength,
                random.utf8.allSatisfy({ RandomToken.isBase62($0) })
            else { return nil }
            return (kind, String(random.prefix(idLength)))
        }
        return nil
    }

    static func hash(_ key: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(key.utf8)))
    }

    /// Compares two digests without an early exit, so timing reveals nothing about either.
    static func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }

    /// How the key is shown in lists: enough to recognise it, never enough to use it.
    static func displayPrefix(of record: APIKeyRecord, kind: SessionKind) -> String {
        kind.keyPrefix + record.id + "…"
    }
}

extension RandomToken {
    static func isBase62(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
    }
}
