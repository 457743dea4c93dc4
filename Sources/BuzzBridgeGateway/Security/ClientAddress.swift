import Foundation
import HTTPTypes
import Hummingbird

/// The address a request came from, the key of the failed-authentication limit.
enum ClientAddress {
    /// Behind a trusted proxy the TCP peer is the proxy itself; the client is the last address
    /// the proxy appended to `X-Forwarded-For` (earlier entries are whatever the client sent).
    static func of(_ request: Request, context: GatewayRequestContext, trustProxy: Bool) -> String {
        if trustProxy, let forwarded = request.headers[.xForwardedFor],
            let last = forwarded.split(separator: ",").last?.trimmingCharacters(in: .whitespaces), !last.isEmpty
        {
            return last
        }
        return context.remoteAddress?.ipAddress ?? "unknown"
    }
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
    static let xForwardedProto = Self("X-Forwarded-Proto")!
    static let xRateLimitLimit = Self("X-RateLimit-Limit")!
    static let xRateLimitRemaining = Self("X-RateLimit-Remaining")!
    static let xRateLimitReset = Self("X-RateLimit-Reset")!
    static let idempotencyKey = Self("Idempotency-Key")!
    static let idempotentReplayed = Self("Idempotent-Replayed")!
}
