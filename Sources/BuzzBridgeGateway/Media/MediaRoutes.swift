import BuzzBridgeCore
import BuzzBridgeStorage
import Foundation
import HTTPTypes
import Hummingbird

/// `GET /api/media/{id}`: a message's file, to its own session's keys (any other key gets
/// NOT_FOUND, as for messages) or to a signed link; `POST /api/media/{id}/link` makes such a link.
struct MediaRoutes {
    let services: GatewayServices

    func register(on group: RouterGroup<GatewayRequestContext>) {
        group.get(":message_id", use: serve)
        group.head(":message_id", use: serve)
        group.post(":message_id/link", use: link)
    }

    private func notFound(_ id: MessageID) -> APIError {
        APIError(.notFound, "Message not found", details: ["message_id": id.rawValue])
    }

    /// The message whose file is asked for, if the caller may have it.
    private func message(_ request: Request, context: GatewayRequestContext) async throws -> Message {
        let id = MessageID(rawValue: try context.parameters.require("message_id"))
        if let caller = context.caller {
            guard let message = try await services.store.message(id, in: caller.sessionID) else { throw notFound(id) }
            return message
        }
        let query = request.uri.queryParameters
        switch try await services.mediaLinks.check(id, expires: query.get("expires"), sig: query.get("sig")) {
        case .valid: break
        case .expired: throw APIError(.unauthorized, "This media link has expired", details: ["expires": "is in the past"])
        case .invalid: throw APIError(.unauthorized, "Invalid media link signature", details: ["sig": "does not match the link"])
        }
        guard let message = try await services.store.message(mediaOf: id) else { throw notFound(id) }
        return message
    }

    @Sendable func serve(request: Request, context: GatewayRequestContext) async throws -> Response {
        let message = try await message(request, context: context)
        guard let media = message.media else {
            throw APIError(.notFound, "This message has no media", details: ["message_id": "is a \(message.type.rawValue) message"])
        }
        guard media.isReady, let hash = media.blobHash, let size = try await services.blobs.size(of: hash) else {
            throw APIError(
                .notFound, "The media file is not available", details: ["media_status": "is \(media.status.rawValue); only ready files are served"])
        }
        var headers: HTTPFields = [
            .contentType: media.mimeType, .acceptRanges: "bytes", .contentDisposition: Self.disposition(for: message, media: media),
            .eTag: "\"\(hash)\"", .cacheControl: "private, max-age=86400",
            HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        ]
        let status: HTTPResponse.Status
        let body: ResponseBody
        switch ByteRange(header: request.headers[.range], size: size) {
        case .unsatisfiable:
            var error = APIError(.rangeNotSatisfiable, "Range not satisfiable", details: ["Range": "must overlap the file's \(size) bytes"])
            error.headers[.contentRange] = "bytes */\(size)"
            throw error
        case .partial(let range):
            status = .partialContent
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(size)"
            headers[.contentLength] = "\(range.count)"
            body = request.method == .head ? ResponseBody() : try await services.blobs.read(hash, range: range, context: context)
        case .whole:
            status = .ok
            headers[.contentLength] = "\(size)"
            body = request.method == .head || size == 0 ? ResponseBody() : try await services.blobs.read(hash, range: nil, context: context)
        }
        return Response(status: status, headers: headers, body: body)
    }

    /// `attachment` with the file's name (an ASCII fallback and the UTF-8 name, RFC 6266), or one
    /// made from the message id and the type's usual extension.
    static func disposition(for message: Message, media: MediaAttachment) -> String {
        let name = media.fileName ?? (message.id.rawValue + MediaExtensions.fileExtension(for: media.mimeType))
        let ascii = String(name.unicodeScalars.map { $0.isASCII && $0 != "\"" && $0 != "\\" && $0.value >= 0x20 ? Character($0) : "_" })
        let encoded = name.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: ".-_"))) ?? ascii
        return "attachment; filename=\"\(ascii)\"; filename*=UTF-8''\(encoded)"
    }

    struct Link: JSONObject {
        let url: String
        let expiresAt: Timestamp

        func members(_ object: inout some JSONMembers) {
            object.member("expires_at", expiresAt)
            object.member("url", url)
        }
    }

    @Sendable func link(request: Request, context: GatewayRequestContext) async throws -> Success<Link> {
        let caller = try context.requireCaller()
        let id = MessageID(rawValue: try context.parameters.require("message_id"))
        let maximum = Int(services.media.maximumLinkLifetime.components.seconds)
        let lifetime = try QueryInput(request: request).integer("expires_in", default: 3600, in: 1...maximum)
        guard let message = try await services.store.message(id, in: caller.sessionID) else { throw notFound(id) }
        guard message.media != nil else {
            throw APIError(.notFound, "This message has no media", details: ["message_id": "is a \(message.type.rawValue) message"])
        }
        let expires = Timestamp(millisecondsSinceEpoch: (Timestamp.now().millisecondsSinceEpoch / 1000 + Int64(lifetime)) * 1000)
        let path = try await services.mediaLinks.link(to: id, expires: expires)
        return Success(Link(url: services.media.publicBaseURL + path, expiresAt: expires), message: "Signed media link created")
    }
}
