import HTTPTypes
import Hummingbird
import Logging

/// Gives every request an id, returned in `X-Request-Id` and carried as the `hb.request.id`
/// metadata of every log line written through the request's logger (Hummingbird's key, which its
/// own lines use too, so that one request never shows two ids).
///
/// A well-formed incoming `X-Request-Id` (from a proxy or the client; 1 to 128 characters of
/// letters, digits and `-_.:+=/@`) is kept, so one id follows a request across systems; anything
/// else is ignored and Hummingbird's own id for the request (unique in the process, random
/// across restarts) is used. The id is set outermost, before every other middleware, so that
/// refusals and errors carry it too.
struct RequestIDMiddleware<Context: RequestContext>: RouterMiddleware {
    static var headerName: HTTPField.Name { HTTPField.Name("X-Request-Id")! }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let id: String
        if let incoming = request.headers[Self.headerName], Self.isWellFormed(incoming) {
            id = incoming
            context.logger[metadataKey: "hb.request.id"] = .string(incoming)
        } else {
            // Hummingbird's id, already in the logger's metadata: nothing to copy.
            id = context.id
        }
        var response = try await next(request, context)
        response.headers[Self.headerName] = id
        return response
    }

    static func isWellFormed(_ id: String) -> Bool {
        let utf8 = id.utf8
        guard (1...128).contains(utf8.count) else { return false }
        return utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
            case UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "+"), UInt8(ascii: "="),
                UInt8(ascii: "/"), UInt8(ascii: "@"):
                true
            default: false
            }
        }
    }
}
