import BuzzBridgeEngines
import Foundation
import WhatsAppProtocol

/// Incoming files: a media message is recorded at once as `.remote` (its file's location, key and
/// digests as the opaque source), and the gateway fetches the file later through
/// ``downloadMedia(_:to:maximumBytes:)``.
extension LiveEngine: RemoteMediaDownloading {
    public nonisolated func downloadMedia(_ source: String, to path: String, maximumBytes: Int) async throws(MediaDownloadFailure) {
        guard let media = try? JSONDecoder().decode(DownloadableMedia.self, from: Data(source.utf8)) else {
            throw MediaDownloadFailure(reason: "the download source is not readable", isPermanent: true)
        }
        do {
            try await client.downloadMedia(media, to: URL(fileURLWithPath: path), maximumBytes: maximumBytes)
        } catch {
            throw MediaDownloadFailure(reason: Self.describe(error), isPermanent: error.isPermanent)
        }
    }

    /// What the gateway stores for a media message: its facts, and its file as a download source;
    /// `failed` when the message lacks what a download needs (key, digests, location).
    static func incomingMedia(_ file: DownloadableMedia?) -> IncomingMedia {
        guard let file, let source = try? String(decoding: JSONEncoder().encode(file), as: UTF8.self) else {
            return IncomingMedia(mimeType: "application/octet-stream", content: .unavailable)
        }
        return IncomingMedia(
            mimeType: file.mimeType ?? "application/octet-stream", fileName: file.fileName, width: file.width, height: file.height,
            content: .remote(source: source, size: file.fileLength))
    }

    private static func describe(_ error: MediaDownloadError) -> String {
        switch error {
        case .tooLarge(let length, let limit): "the file is \(length) bytes, over the limit of \(limit)"
        case .unavailable(let status): "the media host answered \(status): the file is gone"
        case .verification(let problem): "the file does not verify (\(problem))"
        case .noLocation: "the message names no file location"
        case .transient(let reason): reason
        case .local(let reason): reason
        }
    }
}
