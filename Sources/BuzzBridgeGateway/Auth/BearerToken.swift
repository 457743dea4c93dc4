import Foundation
import Hummingbird

/// The credential in an `Authorization: Bearer <token>` header. The scheme is matched without
/// regard to case (RFC 9110), byte by byte: this runs on every request, and `lowercased()` cost
/// more than the rest of the header's parsing.
enum BearerToken {
    static func token(in request: Request) -> String? {
        guard let header = request.headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].utf8.elementsEqual("bearer".utf8, by: { $0 | 0x20 == $1 }) else { return nil }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }
}
