import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking SQLite work on bounded pools of threads of its own, never on a NIO event loop
/// or the cooperative pool; the caller suspends until it is done.
///
/// Three pools, so that statements that may run for seconds cannot take the threads that short
/// work needs: `run` is for the daemon's own short work (mapping lookups, health checks,
/// compiling, quick attempts), `runLong` for clients' statements that may run to their time
/// limit (the slow lane, the writer, batches, schema scripts), `runBackground` for background
/// jobs' steps (rebalance batches), on threads at a lower CPU priority (nice 10), so that a job
/// takes the cores only when requests leave them idle. Each pool's queue only holds work
/// already admitted by a shard's gates or a job runner, so it is bounded too.
enum BlockingWork {
    /// Threads for short work.
    static let shortWorkThreads = 16
    /// Threads for statements that may run long.
    static let longWorkThreads = 8

    private static let shortWork: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: shortWorkThreads)
        pool.start()
        return pool
    }()

    private static let longWork: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: longWorkThreads)
        pool.start()
        return pool
    }()

    /// Threads for background jobs' steps: at most one job of each kind runs.
    static let backgroundWorkThreads = 2
    /// How much less CPU priority background threads have than the rest (a nice value).
    static let backgroundNiceness: Int32 = 10

    private static let backgroundWork: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: backgroundWorkThreads)
        pool.start()
        return pool
    }()

    /// Runs short blocking work.
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await shortWork.runIfActive(body)
    }

    /// Starts `body` on a thread for long work without waiting for it.
    static func startLong(_ body: @escaping @Sendable () -> Void) {
        longWork.submit { _ in body() }
    }

    /// Runs a client's statement that may run until its time limit.
    static func runLong<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await longWork.runIfActive(body)
    }

    /// Runs a step of a background job on a thread of lower CPU priority. Where lowering it is
    /// not allowed (a seccomp filter), the step runs at normal priority.
    static func runBackground<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await backgroundWork.runIfActive {
            // On Linux the nice value is per thread, and 0 names the calling one; a thread may
            // always lower its own priority.
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, backgroundNiceness)
            return try body()
        }
    }
}
