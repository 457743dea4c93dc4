import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix

/// Fetches a `media.url` for a send: through the webhooks' SSRF guard (http(s) only, no private
/// addresses unless allowed), without following redirects (a redirect could lead past the guard),
/// within the time limit, and never beyond the size limit (the body is streamed to the blob
/// store and cut off at the limit). Each fetch has a client of its own, shut down when it ends,
/// so that no client outlives the server whatever way it stops.
struct MediaFetcher: Sendable {
    let policy: WebhookURLPolicy
    let timeout: Duration

    static func makeClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        configuration.timeout.connect = .seconds(10)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    private static func unreachable(_ field: String, _ reason: String) -> APIError {
        APIError.invalid(field, "could not be fetched: \(reason)")
    }

    /// Streams the body of `url` into `intake`; returns the response's declared content type.
    func fetch(_ url: String, field: String, into intake: MediaIntake) async throws -> String? {
        if let problem = await policy.check(url) { throw APIError.invalid(field, problem.description) }
        // The webhooks' guard lets a name that does not resolve pass (a later attempt may succeed);
        // a fetch happens now, so it fails now rather than retrying connections until the deadline.
        if let host = URL(string: url)?.host.map(WebhookURLPolicy.comparableHost), IPAddress.parse(host) == nil,
            (try? await NIOThreadPool.singleton.runIfActive({ IPAddress.resolve(host) }))?.isEmpty ?? true
        {
            throw Self.unreachable(field, "the host name \(host) does not resolve")
        }
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        let client = Self.makeClient()
        defer { Task { try? await client.shutdown() } }
        return try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask {
                let response: HTTPClientResponse
                do {
                    response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(Int64(seconds.rounded(.up)) + 1))
                } catch {
                    throw Self.unreachable(field, "\(error)")
                }
                guard response.status == .ok else { throw Self.unreachable(field, "the server answered HTTP \(response.status.code)") }
                // Refused before a byte is read when the server says how long it is.
                if let length = response.headers.first(name: "content-length").flatMap(Int.init) { try await intake.expect(length: length) }
                do {
                    for try await buffer in response.body { try await intake.write(Array(buffer.readableBytesView)) }
                } catch let error as APIError {
                    throw error
                } catch {
                    throw Self.unreachable(field, "the connection failed mid-file (\(error))")
                }
                return response.headers.first(name: "content-type")
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw Self.unreachable(field, "no complete answer within \(Int(seconds.rounded(.up))) seconds")
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
    }
}
