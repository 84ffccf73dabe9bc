import Synchronization

/// Live counters of one shard, updated without locks by whoever runs a statement there.
public final class ShardMetrics: Sendable {
    private let queries: Atomic<Int>
    private let errors: Atomic<Int>
    private let active = Atomic<Int>(0)

    /// Starts from the counts kept by an earlier run.
    init(queries: Int = 0, errors: Int = 0) {
        self.queries = Atomic(queries)
        self.errors = Atomic(errors)
    }

    public var queryCount: Int { queries.load(ordering: .relaxed) }
    public var errorCount: Int { errors.load(ordering: .relaxed) }
    /// Statements running on the shard right now.
    public var activeConnections: Int { active.load(ordering: .relaxed) }

    /// Counts one use of the shard around `body`, and an error if it throws.
    func measure<T>(_ body: () async throws -> T) async rethrows -> T {
        queries.add(1, ordering: .relaxed)
        active.add(1, ordering: .relaxed)
        defer { active.subtract(1, ordering: .relaxed) }
        do {
            return try await body()
        } catch {
            errors.add(1, ordering: .relaxed)
            throw error
        }
    }

    /// Counts the start of a use of the shard that ends elsewhere, with `finished`.
    func started() -> ContinuousClock.Instant {
        queries.add(1, ordering: .relaxed)
        active.add(1, ordering: .relaxed)
        return ContinuousClock.now
    }

    /// Ends a use counted with `started`.
    func finished(_ started: ContinuousClock.Instant, failed: Bool) {
        active.subtract(1, ordering: .relaxed)
        if failed { errors.add(1, ordering: .relaxed) }
    }

    /// Like `measure`, but an attempt that returns nil (it did nothing, and will be made again)
    /// is not counted.
    func measureAttempt<T>(_ body: () throws -> T?) rethrows -> T? {
        active.add(1, ordering: .relaxed)
        defer { active.subtract(1, ordering: .relaxed) }
        do {
            guard let result = try body() else { return nil }
            queries.add(1, ordering: .relaxed)
            return result
        } catch {
            queries.add(1, ordering: .relaxed)
            errors.add(1, ordering: .relaxed)
            throw error
        }
    }
}
