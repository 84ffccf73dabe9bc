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
        var seen = Set<String>()
        for descriptor in configuration.configuredShards {
            guard !descriptor.name.isEmpty, seen.insert(descriptor.name).inserted else {
                throw CollegeDBError.invalidParams("shard names must be unique and not empty: '\(descriptor.name)'")
            }
        }
        let (store, descriptors, databases) = try await BlockingWork.run {
            let store = try MappingStore(
                path: configuration.mappingStorePath,
                keyCodec: try configuration.keyCodec()
            )
            let descriptors = configuration.effectiveShards(registrations: try store.shardRegistrations())
            let saved = try store.savedMetrics()
            let databases = try descriptors.map {
                try ShardDatabase(name: $0.name, path: configuration.path(of: $0), savedMetrics: saved[$0.name])
            }
            return (store, descriptors, databases)
        }
        let registry = ShardRegistry(shards: databases, candidates: descriptors.map(\.candidate))
        let coordinator = ShardCoordinator(
            registry: registry,
            configuration: configuration,
            store: store,
            logger: logger
        )
        let database = CollegeDB(coordinator: coordinator, mappingStore: store, logger: logger)
        try await database.recoverMoves()
        return database
    }

    // MARK: Routed by key

    /// Runs a statement on the key's shard; an unmapped key is allocated first.
    public func run(key: String, _ statement: SQLStatement) async throws -> QueryResult {
        try await routed(key: key, writes: { _ in true }, body: { try $0.execute(statement) })
    }

    /// Runs a statement on the key's shard and returns all rows. An unmapped key is allocated
    /// only when SQLite compiles the statement as a write.
    public func all(key: String, _ statement: SQLStatement) async throws -> QueryResult {
        try await routed(
            key: key,
            writes: { try !$0.isReadOnly(statement.sql) },
            body: { try $0.execute(statement) }
        )
    }

    /// Like `all`, but reads at most one row.
    public func first(key: String, _ statement: SQLStatement) async throws -> QueryResult {
        try await routed(
            key: key,
            writes: { try !$0.isReadOnly(statement.sql) },
            body: { try $0.execute(statement, rowLimit: 1) }
        )
    }

    /// Runs `statements` on the key's shard in one transaction; an unmapped key is allocated.
    public func batch(key: String, _ statements: [SQLStatement]) async throws -> [QueryResult] {
        try await routed(key: key, writes: { _ in true }, body: { try $0.executeBatch(statements) })
    }

    /// Compiles `sql` on the key's shard without running it; never allocates.
    public func prepare(key: String, sql: String) async throws -> StatementDescription {
        try Self.validate(key: key)
        var shard = try await mappedShard(key: key)
        if shard == nil { shard = try await coordinator.readTarget(key: key, kind: coordinator.policy.strategy.read) }
        let target = shard!
        return try await BlockingWork.run { try target.describe(sql) }
    }

    /// Runs a statement on the shard `key` is mapped to, or returns nil, having done nothing,
    /// when the key is unmapped or its record is being moved. Blocks on SQLite: call it off
    /// event loops and off the cooperative pool. This is the whole of a request for a mapped
    /// key, with no thread hop.
    public func executeMapped(key: String, _ statement: SQLStatement, rowLimit: Int?) throws -> QueryResult? {
        try Self.validate(key: key)
        guard case .done(let result) = try withMappedShard(key: key, { try $0.execute(statement, rowLimit: rowLimit) })
        else { return nil }
        return result
    }

    /// What `withMappedShard` did.
    enum MappedOutcome<T> {
        case done(T)
        case unmapped
        /// The record is being moved; nothing was done.
        case moving(record: Int64)
    }

    /// Runs `body` on the shard of `key`'s record, holding the record so that no move runs
    /// meanwhile. Blocks on SQLite.
    func withMappedShard<T>(key: String, _ body: (ShardDatabase) throws -> T) throws -> MappedOutcome<T> {
        let locks = coordinator.locks
        while true {
            let epoch = locks.epoch
            guard let record = try mappingStore.record(forKey: key) else { return .unmapped }
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

    /// Runs `body` on the key's shard: its mapped shard (after any move of its record), else,
    /// when `writes` says the call writes, a newly allocated one, else the read strategy's pick.
    private func routed<T: Sendable>(
        key: String,
        writes: @escaping @Sendable (ShardDatabase) throws -> Bool,
        body: @escaping @Sendable (ShardDatabase) throws -> T
    ) async throws -> T {
        try Self.validate(key: key)
        while true {
            switch try await BlockingWork.run({ try self.withMappedShard(key: key, body) }) {
            case .done(let value):
                return value
            case .moving(let record):
                await coordinator.locks.waitWhileMoving(record)
            case .unmapped:
                let readTarget = try await coordinator.readTarget(key: key, kind: coordinator.policy.strategy.read)
                guard try await BlockingWork.run({ try writes(readTarget) }) else {
                    return try await BlockingWork.run { try body(readTarget) }
                }
                _ = try await coordinator.allocate(key: key, kind: coordinator.policy.strategy.write)
            }
        }
    }

    /// The shard the key is mapped to, or nil when it is unmapped.
    func mappedShard(key: String) async throws -> ShardDatabase? {
        let store = mappingStore
        guard let name = try await BlockingWork.run({ try store.shard(forKey: key) }) else { return nil }
        return try coordinator.registry.mappedDatabase(named: name, key: key)
    }

    static func validate(key: String) throws {
        guard !key.isEmpty else { throw CollegeDBError.invalidParams("key: must not be empty") }
    }
}

extension CollegeDB.MappedOutcome: Sendable where T: Sendable {}
