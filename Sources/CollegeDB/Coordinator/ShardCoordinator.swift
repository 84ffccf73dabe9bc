import Logging
import Synchronization

/// Owns the known shards and allocates unmapped keys. Its state (mappings, per-shard record
/// counts, the round-robin position) is persisted in the mapping store, so it survives restarts.
package actor ShardCoordinator {
    /// The shards and the routing policy, published for readers on every request path without
    /// an actor hop; only the actor replaces them, always together.
    nonisolated let published: Mutex<(registry: ShardRegistry, policy: RoutingPolicy)>

    /// The shards known now, in shard order.
    package nonisolated var registry: ShardRegistry { published.withLock { $0.registry } }
    /// The routing policy in force now.
    package nonisolated var policy: RoutingPolicy { published.withLock { $0.policy } }
    /// The configuration in force: the one opened with, or the last applied.
    package internal(set) var configuration: CollegeDBConfiguration
    let store: any MappingCatalog
    let logger: Logger
    /// Keeps each record's requests and moves apart.
    package nonisolated let locks = RecordLocks()
    /// The shards a drain plan keeps from new keys (persisted in the store).
    nonisolated let draining: Mutex<Set<String>>
    /// The shard whose existing keys an online adoption is mapping: until it ends, keys without
    /// a mapping are read from it and allocated to it, so that none of its rows is missed.
    nonisolated let adopting = Mutex<String?>(nil)
    /// What a shard opened while running (registered, or added by a reload) goes through before
    /// it is published: the schema changes it lacks.
    /// How many SQLite shards are open, shared by all of them.
    package nonisolated let openShards: OpenShardSlots
    private nonisolated let newShardPreparation = Mutex<(@Sendable (any ShardBackend) async throws -> Void)?>(nil)

    init(
        registry: ShardRegistry,
        configuration: CollegeDBConfiguration,
        store: any MappingCatalog,
        draining: Set<String>,
        logger: Logger
    ) {
        published = Mutex((registry, configuration.policy))
        self.draining = Mutex(draining)
        self.configuration = configuration
        openShards = configuration.shardSettings.openShards
        self.store = store
        self.logger = logger
    }

    /// Sets what a shard opened while running goes through before it is published.
    package nonisolated func preparingNewShards(_ prepare: @escaping @Sendable (any ShardBackend) async throws -> Void)
    {
        newShardPreparation.withLock { $0 = prepare }
    }

    /// Runs the preparation of a shard opened while running, if one is set.
    func prepareNewShard(_ shard: any ShardBackend) async throws {
        guard let prepare = newShardPreparation.withLock({ $0 }) else { return }
        try await prepare(shard)
    }

    /// Answers once the actor is free: a liveness check for the watchdog.
    package func ping() {}

    /// The mapping of `key`, created with `kind` when it has none; atomic across racing callers.
    /// `onCreate` sees a new record before its mapping can be read by anyone.
    package func allocate(
        key: String,
        kind: StrategyKind,
        onCreate: @escaping @Sendable (_ record: Int64) -> Void = { _ in }
    ) async throws -> Allocation {
        let candidates = try await eligibleCandidates()
        let selection = ShardSelection(targetRegion: policy.targetRegion)
        let store = self.store
        let locks = self.locks
        return try await BlockingWork.run {
            var created: Int64?
            do {
                return try store.allocate(
                    key: key,
                    choose: { position in
                        var generator = SystemRandomNumberGenerator()
                        return selection.select(
                            kind,
                            key: key,
                            candidates: candidates,
                            roundRobinPosition: position,
                            using: &generator
                        )
                    },
                    onCreate: { record in
                        created = record
                        onCreate(record)
                    }
                )
            } catch {
                // The transaction that made the record did not commit: nobody can see it.
                if let created { locks.releaseNew(created, removed: true) }
                throw error
            }
        }
    }

    /// Where a read of the unmapped `key` goes under `kind`; nothing is persisted.
    package func readTarget(key: String, kind: StrategyKind) async throws -> any ShardBackend {
        let registry = self.registry
        guard !registry.shards.isEmpty else { throw CollegeDBError(.noShards, "no shard is configured") }
        if let adopting = adopting.withLock({ $0 }), let shard = registry.shard(named: adopting) {
            return shard
        }
        let selection = ShardSelection(targetRegion: policy.targetRegion)
        let store = self.store
        // Only round-robin needs the persisted position, and only that is worth a hop to SQLite.
        let position = kind == .roundRobin ? try await BlockingWork.run { try store.roundRobinPosition() } : 0
        var generator = SystemRandomNumberGenerator()
        let name = selection.select(
            kind,
            key: key,
            candidates: registry.candidates,
            roundRobinPosition: position,
            using: &generator
        ).shard
        return try registry.database(named: name)
    }

    /// The shards that may take new keys: those not being drained and under the size limit, or,
    /// when every such shard is at or over it, the smallest (with a warning).
    func eligibleCandidates() async throws -> [ShardCandidate] {
        let registry = self.registry
        guard !registry.shards.isEmpty else { throw CollegeDBError(.noShards, "no shard is configured") }
        if let adopting = adopting.withLock({ $0 }),
            let candidate = registry.candidates.first(where: { $0.name == adopting })
        {
            return [candidate]
        }
        let draining = self.draining.withLock { $0 }
        let open = zip(registry.candidates, registry.shards).filter { !draining.contains($0.0.name) }
        guard !open.isEmpty else {
            throw CollegeDBError(.noShards, "every shard is being drained; register a shard to take new keys")
        }
        guard let limit = policy.maxDatabaseSize else { return open.map(\.0) }
        var sizes: [Int64] = []
        for (_, shard) in open { sizes.append(try await shard.measureSize()) }
        let underLimit = zip(open.map(\.0), sizes).filter { $0.1 < limit }.map(\.0)
        if !underLimit.isEmpty { return underLimit }
        let smallest = zip(open.map(\.0), sizes).min { $0.1 < $1.1 }!.0
        logger.warning(
            "every shard is at or over the size limit; allocating on the smallest",
            metadata: ["limit": "\(limit)", "shard": "\(smallest.name)"]
        )
        return [smallest]
    }
}
