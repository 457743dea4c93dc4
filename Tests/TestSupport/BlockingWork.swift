import Foundation

/// Runs blocking work (waiting for a child, a blocking read) on a thread of its own.
///
/// Not on `DispatchQueue.global()`: on Linux, Swift concurrency's jobs run on the threads of that
/// same queue, which only grows its pool slowly once they block. In full runs a handful of waits
/// for peers there held up every task of the test process for up to 38 s at a time (seen with
/// gdb: all its threads in `wait4`), and tests that only waited for a second timed out.
public enum BlockingWork {
    public static func run<Value: Sendable>(_ work: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try work() }) }
            thread.start()
        }
    }

    public static func run<Value: Sendable>(_ work: @escaping @Sendable () -> Value) async -> Value {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: work()) }
            thread.start()
        }
    }
}
