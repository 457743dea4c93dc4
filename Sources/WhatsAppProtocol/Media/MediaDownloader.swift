import Crypto
import Foundation
import NIOCore

/// Fetches media files from WhatsApp's media hosts over HTTPS with ``MediaHostClient`` (through
/// the client's proxy, with its credentials, and trust settings), verifying and decrypting them as
/// they stream in.
///
/// Guarantees: memory use is bounded by a few response pieces (the body is never held whole:
/// the connection reads only as the file is written); nothing longer than the message's announced
/// length (plus padding and MAC) is read; the destination file exists only when every check passed
/// (MAC, SHA-256 of the encrypted and of the plain file, length), and is removed otherwise; a file
/// whose encrypted hash is off is fetched from the next host; 403, 404 and 410 are final.
public struct MediaDownloader: Sendable {
    public var client: MediaHostClient

    public init(client: MediaHostClient) {
        self.client = client
    }

    /// `requestTimeout`: how long one request may take in all (large files over slow links need long).
    public init(proxy: ProxyConfiguration?, additionalTrustedCAFile: String?, requestTimeout: TimeAmount = .minutes(10)) {
        self.init(client: MediaHostClient(proxy: proxy, additionalTrustedCAFile: additionalTrustedCAFile, requestTimeout: requestTimeout))
    }

    /// Downloads `media` from `hosts` (tried in order) into `destination`, verified and decrypted.
    public func download(_ media: DownloadableMedia, hosts: [String], to destination: URL, maxBytes: Int) async throws(MediaDownloadError) {
        guard media.fileLength <= maxBytes else { throw .tooLarge(length: media.fileLength, limit: maxBytes) }
        let urls = media.downloadURLs(hosts: hosts)
        guard !urls.isEmpty else { throw .noLocation }
        var lastFailure = MediaDownloadError.transient("no media host")
        for url in urls {
            do {
                try await fetch(url, media: media, to: destination)
                return
            } catch {
                try? FileManager.default.removeItem(at: destination)
                // A file whose encrypted hash is off may have been damaged on this host or on the
                // way: the next host is tried (whatsmeow too); a MAC or plain-hash failure is final.
                if error.isPermanent, error != .verification(.encryptedHashMismatch) { throw error }
                lastFailure = error
            }
        }
        throw lastFailure
    }

    private func fetch(_ url: String, media: DownloadableMedia, to destination: URL) async throws(MediaDownloadError) {
        guard let components = URLComponents(string: url), components.scheme == "https", let host = components.host, !host.isEmpty else {
            throw .noLocation
        }
        // The path and query exactly as written (the hash is already escaped).
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        let target = path + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
        do {
            try await client.get(host: host, port: components.port, target: target) { head, body in
                try await Self.receive(head, body, media: media, to: destination)
            }
        } catch let error as MediaDownloadError {
            throw error
        } catch {
            throw .transient("\(error)")
        }
    }

    private static func receive(
        _ head: MediaHostResponseHead, _ body: MediaHostResponseBody, media: DownloadableMedia, to destination: URL
    ) async throws(MediaDownloadError) {
        switch head.status {
        case 200: break
        case 403, 404, 410: throw .unavailable(status: head.status)
        default: throw .transient("HTTP \(head.status)")
        }
        // Ciphertext is the plain length padded to whole blocks (1 to 16 bytes more), then the MAC.
        let maximumLength = media.fileLength + 16 + 10
        if let length = head.contentLength, length > maximumLength {
            throw .verification(.lengthMismatch(expected: media.fileLength, actual: length))
        }
        var decryptor: MediaDecryptor
        do {
            decryptor = try MediaDecryptor(mediaKey: media.mediaKey, kind: media.kind)
        } catch {
            throw .verification(error)
        }
        guard FileManager.default.createFile(atPath: destination.path, contents: nil),
            let output = try? FileHandle(forWritingTo: destination)
        else { throw .local("cannot create \(destination.path)") }
        defer { try? output.close() }
        var received = 0
        var encryptedHash = SHA256()
        do {
            for try await chunk in body {
                let bytes = Array(chunk.readableBytesView)
                received += bytes.count
                encryptedHash.update(data: bytes)
                guard received <= maximumLength else {
                    throw MediaDownloadError.verification(.lengthMismatch(expected: media.fileLength, actual: received))
                }
                let plain = try decryptor.update(bytes)
                if !plain.isEmpty { try write(plain, to: output) }
            }
        } catch let error as MediaDownloadError {
            throw error
        } catch let error as MediaCryptoError {
            throw .verification(error)
        } catch {
            throw .transient("the connection failed mid-file (\(error))")
        }
        // Checked before the MAC, as whatsmeow does, so that a file damaged in transit is told
        // apart from one altered with a matching hash.
        guard Array(encryptedHash.finalize()) == media.fileEncSHA256 else { throw .verification(.encryptedHashMismatch) }
        do {
            let tail = try decryptor.finish(expecting: media.digest)
            try write(tail, to: output)
            try output.synchronize()
        } catch let error as MediaCryptoError {
            throw .verification(error)
        } catch {
            throw .local("\(error)")
        }
    }

    private static func write(_ bytes: [UInt8], to output: FileHandle) throws(MediaDownloadError) {
        do {
            try output.write(contentsOf: bytes)
        } catch {
            throw .local("writing the file: \(error)")
        }
    }
}
