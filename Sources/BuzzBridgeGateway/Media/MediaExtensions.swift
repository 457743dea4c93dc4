/// The usual file extension of the types BuzzBridge sends and receives, for download names.
enum MediaExtensions {
    static func fileExtension(for mimeType: String) -> String {
        switch MediaSniffer.essence(of: mimeType) {
        case "image/jpeg": ".jpg"
        case "image/png": ".png"
        case "image/webp": ".webp"
        case "image/gif": ".gif"
        case "video/mp4": ".mp4"
        case "video/3gpp": ".3gp"
        case "video/quicktime": ".mov"
        case "audio/ogg": ".ogg"
        case "audio/mpeg": ".mp3"
        case "audio/mp4": ".m4a"
        case "audio/aac": ".aac"
        case "audio/amr": ".amr"
        case "application/pdf": ".pdf"
        default: ".bin"
        }
    }
}
