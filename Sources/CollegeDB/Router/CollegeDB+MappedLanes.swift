/// The synchronous lanes of a keyed call for a key whose mapping is known: a short read
/// answered on the calling thread (an event loop or a request thread), a write queued from an
/// event loop for its shard's group commit, and the check that sends a call whose shard has no
/// such lane (PostgreSQL) straight to a task. Each does nothing when it cannot serve the call;
/// ``CollegeDB/run(key:_:limits:)`` and its siblings then do.
extension CollegeDB {
    /// Runs a statement on the shard `key` is mapped to, or returns nil, having done nothing,
    /// when the key is unmapped, its record is being moved, no place is free at once, or the
    /// statement runs past the quick budget. Blocks on SQLite: call it off event loops and off
    /// the cooperative pool. This is the whole of a short request for a mapped key, with no
    /// thread hop.
    ///
    /// With `onEventLoop`, for a caller on an event loop: also nil when the key's mapping is not
    /// in memory or the statement writes; it reads no SQLite but the shard's, never waits for a
    /// lock or a place, and stops at ``ShardSettings/eventLoopBudget``, so it holds the loop for
    /// at most that long.
    public func executeMapped(
        key: String,
        _ statement: SQLStatement,
        rowLimit: Int?,
        limits: QueryLimits = QueryLimits(),
        onEventLoop: Bool = false
    ) throws -> QueryResult? {
        try Self.validate(key: key)
        guard
            case .done(let result?) = try withMappedShard(
                key: key,
                cachedOnly: onEventLoop,
                {
                    try $0.executeQuickly(
                        statement,
                        rowLimit: rowLimit,
                        limits: limits,
                        onEventLoop: onEventLoop
                    )
                }
            )
        else { return nil }
        return result
    }

    /// Whether `key`'s mapping is in memory and names a shard with no synchronous path (a
    /// PostgreSQL shard), so that its call goes straight to the asynchronous path. Reads
    /// memory only: for a caller on an event loop.
    public func isServedOnlyAsynchronously(key: String) -> Bool {
        guard let record = mappingCache.record(forKey: key) else { return false }
        // A shard the registry no longer knows is for the full path to report.
        guard let shard = try? coordinator.registry.mappedDatabase(named: record.shard, key: key) else {
            return false
        }
        return !shard.hasSynchronousPath
    }

    /// Queues a write for a mapped key in its shard's next group commit, for a caller on an
    /// event loop, or returns false having done nothing (the key's mapping is not in memory, its
    /// record is moving, no reader place is free to classify the statement, or it reads). The
    /// record is held until `completion` has the outcome, so no move runs meanwhile.
    public func enqueueMappedWrite(
        key: String,
        _ statement: SQLStatement,
        rowLimit: Int?,
        limits: QueryLimits = QueryLimits(),
        completion: @escaping @Sendable (Result<QueryResult, CollegeDBError>) -> Void
    ) throws -> Bool {
        try Self.validate(key: key)
        let locks = coordinator.locks
        let epoch = locks.epoch
        guard let record = mappingCache.record(forKey: key),
            case .entered = locks.enter(record.id, readAt: epoch)
        else { return false }
        do {
            let shard = try coordinator.registry.mappedDatabase(named: record.shard, key: key)
            let queued = try shard.enqueueWrite(
                statement,
                rowLimit: rowLimit,
                limits: limits
            ) { outcome in
                locks.leave(record.id)
                completion(outcome)
            }
            if !queued { locks.leave(record.id) }
            return queued
        } catch {
            locks.leave(record.id)
            throw error
        }
    }

    /// What `withMappedShard` did.
    enum MappedOutcome<T> {
        case done(T)
        case unmapped
        /// The record is being moved; nothing was done.
        case moving(record: Int64)
    }

    /// Runs `body` on the shard of `key`'s record, holding the record so that no move runs
    /// meanwhile. Blocks on SQLite to read the mapping, unless `cachedOnly`: then a key whose
    /// mapping is not in memory counts as unmapped.
    func withMappedShard<T>(
        key: String,
        cachedOnly: Bool = false,
        _ body: (any ShardBackend) throws -> T
    ) throws -> MappedOutcome<T> {
        let locks = coordinator.locks
        while true {
            let epoch = locks.epoch
            let found =
                cachedOnly ? mappingCache.record(forKey: key) : try record(forKey: key, epoch: epoch)
            guard let record = found else { return .unmapped }
            switch locks.enter(record.id, readAt: epoch) {
            case .stale:
                continue
            case .moving:
                return .moving(record: record.id)
            case .entered:
                defer { locks.leave(record.id) }
                return .done(try body(coordinator.registry.mappedDatabase(named: record.shard, key: key)))
            }
        }
    }
}

extension CollegeDB.MappedOutcome: Sendable where T: Sendable {}
