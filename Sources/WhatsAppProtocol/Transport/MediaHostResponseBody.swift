import NIOCore
import NIOHTTP1

/// The body of a media host's answer as it arrives, one piece at a time. The connection reads
/// only as the pieces are taken (the channel's inbound back-pressure), so what is held is a few
/// pieces, whatever the file's size. Iterated once: it ends at the answer's end, and throws
/// ``MediaHostError/connectionFailed(host:reason:)`` when the connection breaks, goes idle or
/// passes the request's deadline before then.
public struct MediaHostResponseBody: AsyncSequence {
    public typealias Element = ByteBuffer

    private let parts: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
    private let host: String
    private let closeReason: ConnectionCloseReason

    init(parts: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator, host: String, closeReason: ConnectionCloseReason) {
        self.parts = parts
        self.host = host
        self.closeReason = closeReason
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(parts: parts, host: host, closeReason: closeReason)
    }

    public struct Iterator: AsyncIteratorProtocol {
        private var parts: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
        private let host: String
        private let closeReason: ConnectionCloseReason
        private var ended = false

        init(parts: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator, host: String, closeReason: ConnectionCloseReason) {
            self.parts = parts
            self.host = host
            self.closeReason = closeReason
        }

        public mutating func next() async throws -> ByteBuffer? {
            guard !ended else { return nil }
            let part: HTTPClientResponsePart?
            do {
                part = try await parts.next()
            } catch {
                throw closeReason.reason ?? MediaHostError.from(error, host: host)
            }
            switch part {
            case .body(let piece)?:
                return piece
            case .end?:
                ended = true
                return nil
            case .head?:
                throw MediaHostError.connectionFailed(host: host, reason: "a second answer head")
            case nil:
                throw closeReason.reason ?? MediaHostError.connectionFailed(host: host, reason: "the connection closed before the answer was whole")
            }
        }
    }
}
