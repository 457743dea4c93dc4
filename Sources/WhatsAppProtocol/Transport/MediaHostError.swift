import NIOCore
import NIOSSL

/// Why a request to a media host did not get an answer.
public enum MediaHostError: Error, Sendable, Equatable {
    /// No connection (DNS, TCP, proxy, TLS), it broke before the answer was whole, or it went idle
    /// or past the request's deadline.
    case connectionFailed(host: String, reason: String)
    /// The answer's body is larger than the caller accepts.
    case answerTooLarge(host: String, limit: Int)

    /// `error` as a media host error when it is the connection's (closed, reset, TLS, proxy);
    /// any other error (the caller's own) unchanged.
    static func from(_ error: any Error, host: String) -> any Error {
        switch error {
        case let error as MediaHostError: error
        case let error as NIOSSLError: MediaHostError.connectionFailed(host: host, reason: "TLS: \(error)")
        case let error as ProxyError: MediaHostError.connectionFailed(host: host, reason: "proxy: \(error)")
        case is ChannelError, is IOError: MediaHostError.connectionFailed(host: host, reason: "\(error)")
        default: error
        }
    }
}
