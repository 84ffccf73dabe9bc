import Synchronization

/// Live counters of one shard, updated without locks by whoever runs a statement there, and
/// each statement's duration in a histogram of its own (``StatementDurations``), made at the
/// first statement: a shard never used costs a few words.
public final class ShardMetrics: Sendable {
    private let queries: Atomic<Int>
    private let errors: Atomic<Int>
    private let active = Atomic<Int>(0)
    private let durations = Mutex<StatementDurations?>(nil)

    /// Starts from the counts kept by an earlier run (a negative one, which only a damaged
    /// store could give, starts from 0). The counters wrap rather than trap past `Int.max`.
    init(queries: Int = 0, errors: Int = 0) {
        self.queries = Atomic(max(queries, 0))
        self.errors = Atomic(max(errors, 0))
    }

    public var queryCount: Int { queries.load(ordering: .relaxed) }
    public var errorCount: Int { errors.load(ordering: .relaxed) }
    /// Statements running on the shard right now.
    public var activeConnections: Int { active.load(ordering: .relaxed) }

    /// Counts one use of the shard around `body`, and an error if it throws.
    func measure<T>(_ body: () async throws -> T) async rethrows -> T {
        queries.add(1, ordering: .relaxed)
        active.add(1, ordering: .relaxed)
        let started = ContinuousClock.now
        defer {
            active.subtract(1, ordering: .relaxed)
            record(since: started)
        }
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
        record(since: started)
        if failed { errors.add(1, ordering: .relaxed) }
    }

    /// Like `measure`, but an attempt that returns nil (it did nothing, and will be made again)
    /// is not counted.
    func measureAsyncAttempt<T>(_ body: () async throws -> T?) async rethrows -> T? {
        let started = attemptStarted()
        do {
            return attemptEnded(started, with: try await body())
        } catch {
            attemptFailed(started)
            throw error
        }
    }

    /// ``measureAsyncAttempt(_:)`` for work that does not suspend.
    func measureAttempt<T>(_ body: () throws -> T?) rethrows -> T? {
        let started = attemptStarted()
        do {
            return attemptEnded(started, with: try body())
        } catch {
            attemptFailed(started)
            throw error
        }
    }

    private func attemptStarted() -> ContinuousClock.Instant {
        active.add(1, ordering: .relaxed)
        return ContinuousClock.now
    }

    private func attemptEnded<T>(_ started: ContinuousClock.Instant, with result: T?) -> T? {
        active.subtract(1, ordering: .relaxed)
        guard result != nil else { return nil }
        queries.add(1, ordering: .relaxed)
        record(since: started)
        return result
    }

    private func attemptFailed(_ started: ContinuousClock.Instant) {
        active.subtract(1, ordering: .relaxed)
        queries.add(1, ordering: .relaxed)
        errors.add(1, ordering: .relaxed)
        record(since: started)
    }

    /// The durations of the statements run since the start; nil before the first.
    package var statementDurations: StatementDurations? { durations.withLock { $0 } }

    private func record(since started: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - started
        durations.withLock { durations in
            if durations == nil { durations = StatementDurations() }
            durations?.record(elapsed)
        }
    }
}
