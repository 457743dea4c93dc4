import BuzzBridgeCore
import Foundation
import Hummingbird

/// The body of `POST /api/messages/send` (and of the sandbox's incoming message): a JSON object
/// with an optional `media` object, or a `multipart/form-data` form whose `file` part is the file.
/// Every field is checked, and a file is stored, before anything is sent.
struct SendMessageInput {
    static let mediaFields: Set<String> = ["type", "url", "data", "mime_type", "filename", "caption"]
    static let maximumTextLength = 4096

    var phone: PhoneNumber
    var text: String
    var replyTo: MessageID?
    var name: String?
    var media: StoredMedia?

    /// Reads either body form. `textFields` are the plain fields besides `media` (JSON) or the
    /// form's media fields; `phone` and, unless there is media, `message` are required.
    static func read(
        _ request: Request, context: GatewayRequestContext, services: GatewayServices, textFields: Set<String>
    ) async throws -> SendMessageInput {
        if let boundary = MultipartForm.boundary(of: request.headers[.contentType]) {
            return try await readForm(request, boundary: boundary, services: services, textFields: textFields)
        }
        // Room for a file as base64 besides the other fields.
        let limit = max(context.maxUploadSize, services.media.maximumFileSize / 3 * 4 + 64 * 1024)
        let body = try await JSONObjectInput.read(request, context: context, fields: textFields.union(["media"]), limit: limit)
        let media = try body.object("media", fields: mediaFields)
        // Only a body carrying a file may be larger than any other request's.
        if media == nil, body.bodySize > context.maxUploadSize { throw APIError.bodyTooLarge(limit: context.maxUploadSize) }
        var input = try fields(
            phone: body.requiredString("phone"), message: body.string("message", nullable: false), replyTo: body.string("reply_to"),
            name: textFields.contains("name") ? body.string("name") : nil, caption: media?.string("caption", nullable: false), hasMedia: media != nil,
            captionField: "media.caption"
        )
        if let media {
            let declared = DeclaredMedia(
                type: try DeclaredMedia.type(try media.requiredString("type"), field: "media.type"),
                mimeType: try DeclaredMedia.mimeType(try media.string("mime_type"), field: "media.mime_type"),
                fileName: try DeclaredMedia.fileName(try media.string("filename"), field: "media.filename"),
                fieldPrefix: "media."
            )
            input.media = try await store(url: media.string("url"), data: media.string("data"), declared: declared, services: services)
        }
        return input
    }

    /// The plain fields, checked alike in both forms.
    private static func fields(
        phone: String, message: String?, replyTo: String?, name: String?, caption: String?, hasMedia: Bool, captionField: String
    ) throws(APIError) -> SendMessageInput {
        let phone = try PhoneInput.parse(phone, field: "phone")
        if message != nil, caption != nil { throw .invalid(captionField, "and message are both given; give the caption once") }
        let text = message ?? caption ?? ""
        if !hasMedia {
            guard message != nil else { throw .invalid("message", "is required (or media)") }
            guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw .invalid("message", "must not be empty") }
        }
        guard text.unicodeScalars.count <= maximumTextLength else {
            throw APIError(
                .messageTooLong, "Message exceeds \(maximumTextLength) characters",
                details: [caption != nil ? captionField : "message": "has \(text.unicodeScalars.count) characters"])
        }
        return SendMessageInput(phone: phone, text: text, replyTo: replyTo.map(MessageID.init(rawValue:)), name: name)
    }

    private static func store(url: String?, data: String?, declared: DeclaredMedia, services: GatewayServices) async throws -> StoredMedia {
        let limit = services.media.maximumFileSize
        switch (url, data) {
        case (.some, .some): throw APIError.invalid("media", "has both url and data; give one")
        case (nil, nil): throw APIError.invalid("media", "needs url or data")
        case (let url?, nil):
            let intake = try await MediaIntake(blobs: services.blobs, limit: limit, sourceField: "media.url")
            do {
                let contentType = try await services.mediaFetcher.fetch(url, field: "media.url", into: intake)
                return try await intake.finish(declared, fallbackMimeType: contentType)
            } catch {
                await intake.discard()
                throw error
            }
        case (nil, let data?):
            // A data URI's prefix (`data:image/png;base64,`) is allowed and ignored.
            let payload = data.hasPrefix("data:") ? String(data.drop { $0 != "," }.dropFirst()) : data
            guard payload.utf8.count / 4 * 3 <= limit + 3 else { throw MediaIntake.tooLarge(field: "media.data", limit: limit) }
            guard let bytes = Data(base64Encoded: payload, options: .ignoreUnknownCharacters) else {
                throw APIError.invalid("media.data", "must be base64")
            }
            let intake = try await MediaIntake(blobs: services.blobs, limit: limit, sourceField: "media.data")
            try await intake.write(Array(bytes))
            return try await intake.finish(declared)
        }
    }

    private static func readForm(
        _ request: Request, boundary: String, services: GatewayServices, textFields: Set<String>
    ) async throws -> SendMessageInput {
        let form = try await MultipartForm.read(
            request, boundary: boundary, fileField: "file", blobs: services.blobs, limit: services.media.maximumFileSize)
        do {
            let allowed = textFields.union(["type", "mime_type", "filename", "caption", "file"])
            if let unknown = form.fields.keys.filter({ !allowed.contains($0) }).min() {
                throw APIError.invalid(unknown, "is not a field of this request; allowed: " + allowed.sorted().joined(separator: ", "))
            }
            guard let phone = form.fields["phone"] else { throw APIError.invalid("phone", "is required") }
            let hasMedia = form.file != nil || form.fields["type"] != nil
            var input = try fields(
                phone: phone, message: form.fields["message"], replyTo: form.fields["reply_to"], name: form.fields["name"],
                caption: form.fields["caption"], hasMedia: hasMedia, captionField: "caption"
            )
            if hasMedia {
                guard let intake = form.file else { throw APIError.invalid("file", "is required with type") }
                guard let type = form.fields["type"] else { throw APIError.invalid("type", "is required with a file") }
                let declared = DeclaredMedia(
                    type: try DeclaredMedia.type(type, field: "type"),
                    mimeType: try DeclaredMedia.mimeType(form.fields["mime_type"], field: "mime_type"),
                    fileName: try DeclaredMedia.fileName(form.fields["filename"] ?? form.fileName, field: "filename"),
                    fieldPrefix: ""
                )
                let partType = form.fileContentType.map(MediaSniffer.essence(of:))
                input.media = try await intake.finish(declared, fallbackMimeType: partType == "application/octet-stream" ? nil : partType)
            }
            return input
        } catch {
            await form.file?.discard()
            throw error
        }
    }
}
