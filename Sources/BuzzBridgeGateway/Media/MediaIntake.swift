import BuzzBridgeCore
import Foundation

/// A file a client sends, on its way into the blob store: written as it arrives, under the size
/// limit, its first bytes kept to tell what it is. ``finish(_:)`` checks it against what the
/// client declared and only then names it as a blob.
final class MediaIntake: @unchecked Sendable {
    private let writer: any BlobWriter
    private let limit: Int
    private let sourceField: String
    private var header: [UInt8] = []

    /// `sourceField` names the field the bytes came from (`media.data`, `media.url`, `file`).
    init(blobs: any BlobStore, limit: Int, sourceField: String) async throws {
        self.writer = try await blobs.makeWriter()
        self.limit = limit
        self.sourceField = sourceField
    }

    var size: Int { writer.size }

    func write(_ bytes: [UInt8]) async throws {
        guard writer.size + bytes.count <= limit else {
            await writer.discard()
            throw Self.tooLarge(field: sourceField, limit: limit)
        }
        if header.count < MediaSniffer.headerLength { header += bytes.prefix(MediaSniffer.headerLength - header.count) }
        try await writer.write(bytes)
    }

    /// Refuses at once a file announced as larger than the limit.
    func expect(length: Int) async throws {
        guard length <= limit else {
            await writer.discard()
            throw Self.tooLarge(field: sourceField, limit: limit)
        }
    }

    static func tooLarge(field: String, limit: Int) -> APIError {
        .invalid(field, "is larger than the limit of \(limit) bytes")
    }

    func discard() async { await writer.discard() }

    /// Checks the bytes against `declared` and stores them; the file is dropped on any refusal.
    func finish(_ declared: DeclaredMedia, fallbackMimeType: String? = nil) async throws -> StoredMedia {
        do {
            let attachment = try check(declared, fallbackMimeType: fallbackMimeType)
            let blob = try await writer.commit()
            var stored = attachment
            stored.blobHash = blob.hash
            stored.size = blob.size
            return StoredMedia(type: declared.type, attachment: stored)
        } catch {
            await writer.discard()
            throw error
        }
    }

    private func check(_ declared: DeclaredMedia, fallbackMimeType: String?) throws(APIError) -> MediaAttachment {
        guard writer.size > 0 else { throw .invalid(sourceField, "is an empty file") }
        let mimeField = declared.fieldPrefix + "mime_type"
        let sniffed = MediaSniffer.sniff(header)
        var mimeType: String
        if let given = declared.mimeType {
            let essence = MediaSniffer.essence(of: given)
            if let sniffed, !MediaSniffer.matches(declared: essence, sniffed: sniffed.mimeType) {
                throw .invalid(mimeField, "is \(essence) but the file is \(sniffed.mimeType)")
            }
            if sniffed == nil, declared.type != .document || Self.recognisable(essence) {
                throw .invalid(mimeField, "is \(essence) but the file's content is not \(essence)")
            }
            mimeType = given
        } else if let sniffed {
            mimeType = sniffed.mimeType
        } else if let fallback = fallbackMimeType.map(MediaSniffer.essence(of:)), declared.type == .document, !Self.recognisable(fallback) {
            mimeType = fallback
        } else if declared.type == .document {
            mimeType = "application/octet-stream"
        } else {
            throw .invalid(declared.fieldPrefix + "type", "is \(declared.type.rawValue) but the file is not a format WhatsApp shows as one")
        }
        if let accepted = MediaSniffer.accepted[declared.type] {
            let essence = MediaSniffer.aliases[MediaSniffer.essence(of: mimeType)] ?? MediaSniffer.essence(of: mimeType)
            guard accepted.contains(essence) else {
                throw .invalid(
                    declared.fieldPrefix + "type",
                    "is \(declared.type.rawValue), which takes " + accepted.sorted().joined(separator: ", ") + "; the file is \(essence)")
            }
        }
        if mimeType == "audio/ogg", declared.type == .audio { mimeType = "audio/ogg; codecs=opus" }
        return MediaAttachment(
            mimeType: mimeType, fileName: declared.fileName, size: writer.size, width: sniffed?.width, height: sniffed?.height, status: .ready
        )
    }

    /// Formats whose signature the sniffer knows: declaring one of them promises those bytes.
    private static func recognisable(_ essence: String) -> Bool {
        let essence = MediaSniffer.aliases[essence] ?? essence
        return MediaSniffer.accepted.values.contains { $0.contains(essence) } || essence == "application/pdf" || essence == "image/gif"
    }
}

/// A client's file, checked and stored.
struct StoredMedia: Sendable, Equatable {
    var type: MessageType
    var attachment: MediaAttachment
}
