import Logging

/// The sharded database: routes each statement to a shard by key, through the mapping store or,
/// for an unmapped key, a strategy. Safe to share across tasks; usable in-process.
public final class CollegeDB: Sendable {
    public let coordinator: ShardCoordinator
    public let mappingStore: MappingStore
    let logger: Logger
    let startedAt = ContinuousClock.now

    /// The daemon's version, reported by `health`.
    public static let version = "0.1.0"

    private init(
        coordinator: ShardCoordinator,
        mappingStore: MappingStore,
        logger: Logger
    ) {
        self.coordinator = coordinator
        self.mappingStore = mappingStore
        self.logger = logger
    }

    /// Opens the mapping store and every configured shard (the embedded default when none is),
    /// creating missing files.
    public static func open(
        _ configuration: CollegeDBConfiguration,
        logger: Logger = Logger(label: "collegedb")
    )
        async throws -> CollegeDB
    {
        let descriptors = configuration.effectiveShards
        var seen = Set<String>()
        for descriptor in descriptors {
            guard !descriptor.name.isEmpty, seen.insert(descriptor.name).inserted else {
                throw CollegeDBError.invalidParams("shard names must be unique and not empty: '\(descriptor.name)'")
            }
        }
        let (store, databases) = try await BlockingWork.run {
            let store = try MappingStore(
                path: configuration.mappingStorePath,
                keyCodec: MappingKeyCodec(hashesKeys: configuration.hashesKeys)
            )
            let databases = try descriptors.map { try ShardDatabase(name: $0.name, path: configuration.path(of: $0)) }
            return (store, databases)
        }
        let registry = ShardRegistry(shards: databases, candidates: descriptors.map(\.candidate))
        let coordinator = ShardCoordinator(
            registry: registry,
            configuration: configuration,
            store: store,
            logger: logger
        )
        return CollegeDB(coordinator: coordinator, mappingStore: store, logger: logger)
    }

    // MARK: Routed by key

    /// Runs a statement on the key's shard; an unmapped key is allocated first.
    public func run(key: String, _ statement: SQLStatement) async throws -> QueryResult {
        try await execute(key: key, statement, allocates: true, rowLimit: nil)
    }

    /// Runs a statement on the key's shard and returns all rows. An unmapped key is allocated
    /// only when SQLite compiles the statement as a write.
    public func all(key: String, _ statement: SQLStatement) async throws -> QueryResult {
        try await execute(key: key, statement, allocates: false, rowLimit: nil)
    }

    /// Like `all`, but reads at most one row.
    public func first(key: String, _ statement: SQLStatement) async throws -> QueryResult {
        try await execute(key: key, statement, allocates: false, rowLimit: 1)
    }

    /// Compiles `sql` on the key's shard without running it; never allocates.
    public func prepare(key: String, sql: String) async throws -> StatementDescription {
        try Self.validate(key: key)
        var shard = try await mappedShard(key: key)
        if shard == nil { shard = try await coordinator.readTarget(key: key, kind: coordinator.policy.strategy.read) }
        let target = shard!
        return try await BlockingWork.run { try target.describe(sql) }
    }

    /// Runs `statements` on the key's shard in one transaction; an unmapped key is allocated.
    public func batch(key: String, _ statements: [SQLStatement]) async throws -> [QueryResult] {
        try Self.validate(key: key)
        let shard: ShardDatabase
        if let mapped = try await mappedShard(key: key) {
            shard = mapped
        } else {
            shard = try await allocatedShard(key: key, kind: coordinator.policy.strategy.write)
        }
        return try await BlockingWork.run { try shard.executeBatch(statements) }
    }

    /// Runs a statement on the shard `key` is mapped to, or returns nil, having done nothing,
    /// when the key is unmapped. Blocks on SQLite: call it off event loops and off the
    /// cooperative pool. This is the whole of a request for a mapped key, with no thread hop.
    public func executeMapped(key: String, _ statement: SQLStatement, rowLimit: Int?) throws -> QueryResult? {
        try Self.validate(key: key)
        guard let name = try mappingStore.shard(forKey: key) else { return nil }
        return try coordinator.registry.mappedDatabase(named: name, key: key).execute(statement, rowLimit: rowLimit)
    }

    private func execute(
        key: String,
        _ statement: SQLStatement,
        allocates: Bool,
        rowLimit: Int?
    ) async throws
        -> QueryResult
    {
        if let mappedResult = try await BlockingWork.run({
            try self.executeMapped(key: key, statement, rowLimit: rowLimit)
        }) {
            return mappedResult
        }
        let readTarget = try await coordinator.readTarget(key: key, kind: coordinator.policy.strategy.read)
        var writes = allocates
        if !writes { writes = try await BlockingWork.run { try !readTarget.isReadOnly(statement.sql) } }
        let shard = writes ? try await allocatedShard(key: key, kind: coordinator.policy.strategy.write) : readTarget
        return try await BlockingWork.run { try shard.execute(statement, rowLimit: rowLimit) }
    }

    /// The shard the key is mapped to, or nil when it is unmapped.
    func mappedShard(key: String) async throws -> ShardDatabase? {
        let store = mappingStore
        guard let name = try await BlockingWork.run({ try store.shard(forKey: key) }) else { return nil }
        return try coordinator.registry.mappedDatabase(named: name, key: key)
    }

    private func allocatedShard(key: String, kind: StrategyKind) async throws -> ShardDatabase {
        let allocation = try await coordinator.allocate(key: key, kind: kind)
        return try coordinator.registry.mappedDatabase(named: allocation.shard, key: key)
    }

    static func validate(key: String) throws {
        guard !key.isEmpty else { throw CollegeDBError.invalidParams("key: must not be empty") }
    }
}
