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
        let names = coordinator.registry.names
        let store = mappingStore
        let stored = try await BlockingWork.run { try store.statistics() }
        return names.map { stored[$0] ?? ShardStatistics(shard: $0, count: 0, lastUpdated: nil) }
    }

    /// Clears every mapping and the coordinator's state; shard data is never touched. Refused
    /// unless the configuration allows it and `confirm` is true.
    public func flush(confirm: Bool) async throws {
        try checkFlushAllowed(confirm: confirm)
        let store = mappingStore
        let deleted = try await BlockingWork.run { try store.clearAll() }
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

    /// The state of the mapping store and of each shard.
    public func health() async -> HealthReport {
        let shards = coordinator.registry.shards
        let store = mappingStore
        let (storeHealthy, shardHealth) =
            (try? await BlockingWork.run { (store.isHealthy(), shards.map { ($0.name, $0.isHealthy()) }) })
            ?? (false, shards.map { ($0.name, false) })
        let healthyCount = shardHealth.filter(\.1).count
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
            uptimeSeconds: Double(uptime.components.seconds) + Double(uptime.components.attoseconds) / 1e18,
            version: Self.version
        )
    }
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
    /// Each shard's name and whether it answered, in shard order.
    public var shards: [(name: String, healthy: Bool)]
    public var uptimeSeconds: Double
    public var version: String
}
