import Synchronization

/// Why this client closed a media host connection on its own (idle, past the request's deadline).
///
/// Once a handler closes the connection, what the request's reads and writes fail with depends on
/// timing (the error fired up the pipeline, or "I/O on closed channel" from a write that came
/// after the close); the reason recorded here comes first, so the caller is told why whatever
/// surfaced.
final class ConnectionCloseReason: Sendable {
    private let recorded = Mutex<MediaHostError?>(nil)

    /// Keeps the first reason: the one that closed the connection.
    func record(_ reason: MediaHostError) {
        recorded.withLock { if $0 == nil { $0 = reason } }
    }

    var reason: MediaHostError? { recorded.withLock { $0 } }
}
