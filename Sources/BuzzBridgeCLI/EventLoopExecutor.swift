import ConcurrencyHook
import NIOCore
import NIOPosix

/// Runs Swift concurrency's jobs on NIO's event loop threads instead of a second pool of threads:
/// a request is then read, handled and answered without crossing threads. Handing each request to
/// another pool and back was a large part of its cost (docs/benchmarks.md).
///
/// This is what `NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()`
/// does, but it finds the runtime's hook through the linker (see ConcurrencyHook.h), so that it
/// also works in the statically linked release build.
enum EventLoopExecutor {
    /// The runtime calls the hook with each job to enqueue and its own enqueue function (unused).
    private typealias EnqueueGlobalHook = @convention(thin) (UnownedJob, @convention(thin) (UnownedJob) -> Void) -> Void

    /// Call once, before any task starts. Returns false if another hook is already installed.
    @discardableResult
    static func install() -> Bool {
        // `any()` prefers the loop the caller is on, so a job started from an event loop stays there.
        let hook: EnqueueGlobalHook = { job, _ in
            MultiThreadedEventLoopGroup.singleton.any().executor.enqueue(ExecutorJob(job))
        }
        return buzzbridge_install_enqueue_global_hook(unsafeBitCast(hook, to: UnsafeMutableRawPointer.self))
    }
}
