import BuzzBridgeCore

/// What a client says about the file it sends, validated as input; the bytes are checked
/// against it when they have arrived (``MediaIntake``).
struct DeclaredMedia: Sendable, Equatable {
    var type: MessageType
    var mimeType: String?
    var fileName: String?
    var caption: String?
    /// How errors name the fields: `media.` in JSON, nothing in a multipart form.
    var fieldPrefix: String

    static let mediaTypes: [MessageType] = [.image, .video, .audio, .document]

    static func type(_ text: String, field: String) throws(APIError) -> MessageType {
        guard let type = MessageType(rawValue: text), type != .text else {
            throw .invalid(field, "must be one of: " + mediaTypes.map(\.rawValue).joined(separator: ", "))
        }
        return type
    }

    static func mimeType(_ text: String?, field: String) throws(APIError) -> String? {
        guard let text else { return nil }
        let essence = MediaSniffer.essence(of: text)
        let parts = essence.split(separator: "/")
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, text.utf8.count <= 255,
            text.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 })
        else { throw .invalid(field, "must be a media type such as image/jpeg") }
        return text.trimmingCharacters(in: .whitespaces)
    }

    /// The name a download is offered under: the last path component, no control characters.
    static func fileName(_ text: String?, field: String) throws(APIError) -> String? {
        guard let text else { return nil }
        let name = String(text.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last ?? "")
        guard !name.isEmpty, name != ".", name != "..", name.utf8.count <= 255,
            name.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F })
        else { throw .invalid(field, "must be a file name of 1 to 255 bytes without control characters") }
        return name
    }
}
