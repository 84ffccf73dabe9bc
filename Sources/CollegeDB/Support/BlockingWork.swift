import NIOPosix

/// Runs blocking SQLite work on bounded pools of threads of its own, never on a NIO event loop
/// or the cooperative pool; the caller suspends until it is done.
///
/// Two pools, so that statements that may run for seconds cannot take the threads that short
/// work needs: `run` is for the daemon's own short work (mapping lookups, health checks,
/// compiling, quick attempts), `runLong` for clients' statements that may run to their time
/// limit (the slow lane, the writer, batches, schema scripts). Each pool's queue only holds work
/// already admitted by a shard's gates, so it is bounded too.
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
}
