import NIOCore
import NIOPosix

// Swift Concurrency's jobs run on NIO's event loops, so a request does not hop between NIO's
// threads and the cooperative pool. This must happen before any task is enqueued.
NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
await CollegeDBDaemon.runAsRoot()
