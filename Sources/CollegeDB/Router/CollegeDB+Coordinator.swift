extension CollegeDB {
    /// The existing mapping of `primaryKey`, or a new one persisted, chosen by `strategy` or
    /// else by the configured strategy for `operation` (write by default).
    public func allocate(
        primaryKey: String,
        strategy: StrategyKind? = nil,
        operation: OperationType = .write
    )
        async throws -> Allocation
    {
        try Self.validate(key: primaryKey)
        return try await coordinator.allocate(
            key: primaryKey,
            kind: strategy ?? coordinator.policy.strategy.kind(for: operation)
        )
    }

    /// The names of the known shards, in shard order.
    public func listKnownShards() async -> [String] {
        coordinator.registry.names
    }

    /// Per-shard statistics in shard order: distinct records mapped, and when that last changed.
    public func shardStatistics() async throws -> [ShardStatistics] {
        try await statistics(of: coordinator.registry.names)
    }

    /// One page of ``shardStatistics()``: at most `limit` shards after the one named `cursor`,
    /// and the cursor of the next page (nil after the last).
    /// - Throws: `INVALID_PARAMS` for a limit below 1 or an unknown cursor.
    public func shardStatistics(
        limit: Int,
        after cursor: String?
    ) async throws -> (
        shards: [ShardStatistics], cursor: String?
    ) {
        let page = try coordinator.registry.page(after: cursor, limit: min(limit, Self.maximumShardPage))
        return (try await statistics(of: page.shards.map(\.name)), page.next)
    }

    /// The most shards a page of metadata or statistics holds: 1,000.
    public static let maximumShardPage = 1000

    private func statistics(of names: [String]) async throws -> [ShardStatistics] {
        let store = catalog
        let stored = try await BlockingWork.run { try store.statistics() }
        return names.map { stored[$0] ?? ShardStatistics(shard: $0, count: 0, lastUpdated: nil) }
    }

    /// Adds a shard at the end of the shard order (a new SQLite file under the data directory
    /// when `path` is nil). Kept across restarts. An existing file that holds rows in owned
    /// tables is adopted before this returns (``autoDetectAndMigrate(shard:tables:primaryKeyColumn:dryRun:)``).
    public func registerShard(_ shard: String, path: String? = nil) async throws {
        try await coordinator.register(shard, path: path)
        await prepareIdentifiers(on: [try coordinator.registry.database(named: shard)])
        try await adoptIfNeeded(shard)
    }

    /// Removes a shard from the known shards, keeping its file; refused with `SHARD_NOT_EMPTY`
    /// while records map to it, unless `force`. Kept across restarts.
    public func unregisterShard(_ shard: String, force: Bool = false) async throws {
        try await coordinator.unregister(shard, force: force)
    }

    /// Overrides the recorded record count of `shard`; later allocations move it from there.
    public func updateShardStats(_ shard: String, count: Int64) async throws {
        guard count >= 0 else { throw CollegeDBError.invalidParams("count: must not be negative") }
        try await adjustCount(shard, to: count, by: 0)
    }

    /// Adds one to the recorded record count of `shard`.
    public func incrementShardCount(_ shard: String) async throws {
        try await adjustCount(shard, to: nil, by: 1)
    }

    /// Subtracts one from the recorded record count of `shard`, never below 0.
    public func decrementShardCount(_ shard: String) async throws {
        try await adjustCount(shard, to: nil, by: -1)
    }

    private func adjustCount(_ shard: String, to count: Int64?, by delta: Int64) async throws {
        _ = try coordinator.registry.database(named: shard)
        let store = catalog
        try await BlockingWork.run { try store.adjustRecordCount(onShard: shard, to: count, by: delta) }
    }

    /// Per shard, in shard order: records, health, live and kept counters, size. A shard that
    /// does not serve is reported as such (with no size), never failing the whole answer.
    public func shardMetadata() async throws -> [ShardMetadata] {
        try await metadata(of: coordinator.registry.shards)
    }

    /// One page of ``shardMetadata()``: at most `limit` shards after the one named `cursor`, and
    /// the cursor of the next page (nil after the last). Only the page's shards are asked.
    /// - Throws: `INVALID_PARAMS` for a limit below 1 or an unknown cursor.
    public func shardMetadata(
        limit: Int,
        after cursor: String?
    ) async throws -> (
        shards: [ShardMetadata], cursor: String?
    ) {
        let page = try coordinator.registry.page(after: cursor, limit: min(limit, Self.maximumShardPage))
        return (try await metadata(of: page.shards), page.next)
    }

    /// The metadata of the `limit` shards that ran the most statements, busiest first, leaving
    /// out those that never ran one: what a metrics scrape publishes shard by shard, however
    /// many shards there are.
    public func busiestShardMetadata(limit: Int) async throws -> [ShardMetadata] {
        let busiest = coordinator.registry.shards
            .map { (queries: $0.metrics.queryCount, shard: $0) }
            .filter { $0.queries > 0 }
            .sorted { $0.queries > $1.queries }
            .prefix(max(limit, 0))
            .map(\.shard)
        return try await metadata(of: busiest)
    }

    /// What every shard did and holds, added up: statements, errors, their durations, and
    /// SQLite shards open now, opened and closed to make room since the start.
    public func shardTotals() -> ShardTotals {
        var totals = ShardTotals()
        for shard in coordinator.registry.shards {
            totals.statements &+= shard.metrics.queryCount
            totals.errors &+= shard.metrics.errorCount
            if let durations = shard.metrics.statementDurations { totals.durations.add(durations) }
        }
        let open = coordinator.openShards.counts
        totals.openSQLiteShards = open.open
        totals.sqliteShardOpens = open.opened
        totals.sqliteShardEvictions = open.evicted
        return totals
    }

    private func metadata(of shards: [any ShardBackend]) async throws -> [ShardMetadata] {
        let statistics = try await statistics(of: shards.map(\.name))
        var metadata: [ShardMetadata] = []
        for (shard, statistics) in zip(shards, statistics) {
            let size: Result<Int64, any Error>
            do { size = .success(try await shard.measureSize()) } catch { size = .failure(error) }
            let health = await shard.checkHealth()
            let commits = shard.commitCounts
            var sizeBytes: Int64?
            var sizeProblem: String?
            switch size {
            case .success(let bytes): sizeBytes = bytes
            case .failure(let error): sizeProblem = "\(error)"
            }
            metadata.append(
                ShardMetadata(
                    shard: shard.name,
                    backend: shard.backendKind,
                    location: shard.location,
                    keyCount: statistics.count,
                    health: health,
                    problem: shard.unavailableReason ?? sizeProblem,
                    activeConnections: shard.metrics.activeConnections,
                    connectionPool: shard.connectionPool,
                    commits: commits.commits,
                    writesCommitted: commits.calls,
                    queryCount: shard.metrics.queryCount,
                    errorCount: shard.metrics.errorCount,
                    sizeBytes: sizeBytes,
                    lastUpdated: statistics.lastUpdated,
                    statementDurations: shard.metrics.statementDurations
                )
            )
        }
        return metadata
    }

    /// Clears every mapping and the coordinator's state; shard data is never touched. Refused
    /// unless the configuration allows it and `confirm` is true.
    public func flush(confirm: Bool) async throws {
        try checkFlushAllowed(confirm: confirm)
        let store = catalog
        let deleted = try await BlockingWork.run { try store.clearAll() }
        coordinator.locks.mappingsChanged()
        logger.warning("flushed every mapping", metadata: ["records": "\(deleted)"])
    }

    func checkFlushAllowed(confirm: Bool) throws {
        guard coordinator.policy.allowsFlush else {
            throw CollegeDBError(
                .flushDisabled,
                "flushing is disabled; start the daemon with --allow-flush (development only)"
            )
        }
        guard confirm else { throw CollegeDBError(.flushDisabled, "confirm: must be true to flush") }
    }

    /// How many shards `health` checks at once: 64.
    static let healthCheckConcurrency = 64

    /// The state of the mapping store and of each shard.
    public func health() async -> HealthReport {
        let shards = coordinator.registry.shards
        let store = catalog
        // No thread to ask on (the pool is shutting down) counts as unhealthy.
        let storeHealthy = (try? await BlockingWork.run { store.isHealthy() }) ?? false
        // Checked many at once, so a server that is down delays the answer by about its
        // connect timeout, not by one per shard; a closed SQLite shard answers without work.
        let checked = await BoundedConcurrency.map(shards, limit: Self.healthCheckConcurrency) {
            await $0.checkHealth()
        }
        let shardHealth = zip(shards, checked).map { ($0.name, $1) }
        let healthyCount = shardHealth.filter { $0.1 == .ok }.count
        let status: HealthReport.Status
        if !storeHealthy || healthyCount == 0 {
            status = .unhealthy
        } else if healthyCount < shardHealth.count {
            status = .degraded
        } else {
            status = .ok
        }
        let uptime = ContinuousClock.now - startedAt
        return HealthReport(
            status: status,
            mappingStoreHealthy: storeHealthy,
            shards: shardHealth,
            uptimeSeconds: uptime.fractionalSeconds,
            version: Self.version
        )
    }
}

/// One shard's `getShardMetadata` entry.
public struct ShardMetadata: Sendable, Hashable {
    public var shard: String
    /// `sqlite` or `postgres`.
    public var backend: ShardBackendKind
    /// The file, or the PostgreSQL URL (which never holds a password).
    public var location: String
    /// Distinct records mapped to the shard.
    public var keyCount: Int64
    public var health: ShardHealth
    /// Why the shard does not serve, when it does not.
    public var problem: String?
    /// Statements running on the shard now.
    public var activeConnections: Int
    /// The use of a PostgreSQL shard's connection pool; nil for a SQLite shard.
    public var connectionPool: ConnectionPoolUse?
    /// Write transactions committed for clients since the start.
    public var commits: Int
    /// Client writes those transactions carried (group commit puts many in one).
    public var writesCommitted: Int
    /// Statements run, across restarts.
    public var queryCount: Int
    /// Statements failed, across restarts.
    public var errorCount: Int
    /// `page_count * page_size` (SQLite) or `pg_database_size` (PostgreSQL), or nil when it
    /// cannot be read.
    public var sizeBytes: Int64?
    /// Milliseconds since 1970 of the last change of the record count.
    public var lastUpdated: Int64?
    /// How long the shard's statements took since the start; nil before the first.
    package var statementDurations: StatementDurations?
}

/// The answer of `health`.
public struct HealthReport: Sendable {
    public enum Status: String, Sendable {
        /// The mapping store and every shard answer.
        case ok
        /// Some shards do not answer.
        case degraded
        /// The mapping store or every shard does not answer.
        case unhealthy
    }

    public var status: Status
    public var mappingStoreHealthy: Bool
    /// Each shard's name and health, in shard order.
    public var shards: [(name: String, health: ShardHealth)]
    public var uptimeSeconds: Double
    public var version: String
}
