import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// Fetches media files from WhatsApp's media hosts over HTTPS (through the client's proxy and
/// trust settings), verifying and decrypting them as they stream in.
///
/// Guarantees: memory use is bounded by one response chunk (the body is never held whole);
/// nothing longer than the message's announced length (plus padding and MAC) is read; the
/// destination file exists only when every check passed (MAC, SHA-256 of the encrypted and of
/// the plain file, length), and is removed otherwise.
public struct MediaDownloader: Sendable {
    private let client: HTTPClient
    /// How long one request may take in all (large files over slow links need long).
    public var requestTimeout: TimeAmount

    public init(proxy: ProxyConfiguration?, additionalTrustedCAFile: String?, requestTimeout: TimeAmount = .minutes(10)) {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let additionalTrustedCAFile { tls.additionalTrustRoots = [.file(additionalTrustedCAFile)] }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        configuration.timeout.connect = .seconds(20)
        switch proxy {
        case .httpConnect(let host, let port, let credentials)?:
            configuration.proxy = .server(
                host: host, port: port,
                authorization: credentials.map { .basic(username: $0.username, password: $0.password) })
        case .socks5(let host, let port, _)?:
            configuration.proxy = .socksServer(host: host, port: port)
        case nil:
            break
        }
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.requestTimeout = requestTimeout
    }

    public func shutdown() async {
        try? await client.shutdown()
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
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Origin", value: "https://web.whatsapp.com")
        request.headers.add(name: "Referer", value: "https://web.whatsapp.com/")
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: requestTimeout)
        } catch {
            throw .transient("\(error)")
        }
        switch response.status.code {
        case 200: break
        case 403, 404, 410: throw .unavailable(status: Int(response.status.code))
        default: throw .transient("HTTP \(response.status.code)")
        }
        // Ciphertext is the plain length padded to whole blocks (1 to 16 bytes more), then the MAC.
        let maximumLength = media.fileLength + 16 + 10
        if let length = response.headers.first(name: "content-length").flatMap(Int.init), length > maximumLength {
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
            for try await chunk in response.body {
                let bytes = Array(chunk.readableBytesView)
                received += bytes.count
                encryptedHash.update(data: bytes)
                guard received <= maximumLength else {
                    throw MediaDownloadError.verification(.lengthMismatch(expected: media.fileLength, actual: received))
                }
                let plain = try decryptor.update(bytes)
                if !plain.isEmpty { try output.write(contentsOf: plain) }
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
            try output.write(contentsOf: tail)
            try output.synchronize()
        } catch let error as MediaCryptoError {
            throw .verification(error)
        } catch {
            throw .local("\(error)")
        }
    }
}
