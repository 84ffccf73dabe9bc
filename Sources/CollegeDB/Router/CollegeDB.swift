import Logging
import Synchronization

/// The sharded database: routes each statement to a shard by key, through the mapping store or,
/// for an unmapped key, a strategy. Safe to share across tasks; usable in-process.
public final class CollegeDB: Sendable {
    package let coordinator: ShardCoordinator
    /// Where mappings live: the SQLite mapping store, or a PostgreSQL catalog shared by daemons.
    package let catalog: any MappingCatalog
    let logger: Logger
    let directoryLock: DataDirectoryLock
    /// Hot mappings in memory; see ``MappingCache`` for why it cannot serve a stale shard.
    let mappingCache: MappingCache
    let startedAt = ContinuousClock.now
    /// The background jobs (rebalancing, adoption, schema changes, backups).
    let jobs = JobRunner()
    /// How far the backup under way is.
    let backupProgress = Mutex<BackupProgress?>(nil)
    /// The engine's own runner of PostgreSQL clients, when the application gave none: ended
    /// by ``close()``.
    let ownPostgresClients: Task<Void, any Error>?

    /// The daemon's version, reported by `health`.
    public static let version = "0.1.0"

    private init(
        coordinator: ShardCoordinator,
        catalog: any MappingCatalog,
        directoryLock: DataDirectoryLock,
        mappingCacheCapacity: Int,
        ownPostgresClients: Task<Void, any Error>?,
        logger: Logger
    ) {
        self.ownPostgresClients = ownPostgresClients
        mappingCache = MappingCache(
            capacity: mappingCacheCapacity,
            locks: coordinator.locks,
            serving: !catalog.isShared
        )
        self.coordinator = coordinator
        self.catalog = catalog
        self.directoryLock = directoryLock
        self.logger = logger
    }

    /// Opens the mapping store and every configured shard (the embedded default when none is),
    /// creating missing files. A shard that cannot be opened is reported unavailable (its keys
    /// get `SHARD_UNAVAILABLE`) and the others serve.
    ///
    /// A shard whose file holds rows in owned tables and that was never adopted is adopted
    /// before this returns (every existing key mapped to it; see
    /// ``integrateExistingDatabase(shard:tables:primaryKeyColumn:dryRun:)``), and so is one whose
    /// adoption a crash interrupted.
    /// - Parameters:
    ///   - configuration: The data directory, shards and policies.
    ///   - logger: Where the engine logs.
    ///   - adoptionProgress: Hears a one-line report after each chunk of an adoption. The
    ///     default ignores them.
    /// - Returns: The engine, serving. Call ``close()`` when done.
    /// - Throws: `DATA_DIRECTORY_IN_USE` when another engine has the data directory open;
    ///   `MAPPING_STORE_FAILED` when the mapping store cannot be opened; `INVALID_PARAMS` for
    ///   shard names that repeat or break ``ShardName``'s grammar; `OVERLOADED` when the SQLite
    ///   shards need more open files than the process may have. A SQLite shard whose file
    ///   ``ShardFileCheck`` refuses (the mapping store, another shard's file, not SQLite) or that
    ///   cannot be opened is reported unavailable, and the others serve.
    public static func open(
        _ configuration: CollegeDBConfiguration,
        logger: Logger = Logger(label: "collegedb"),
        adoptionProgress: @escaping @Sendable (String) -> Void = { _ in }
    )
        async throws -> CollegeDB
    {
        guard configuration.postgresClients == nil else {
            return try await open(
                configuration,
                ownPostgresClients: nil,
                logger: logger,
                adoptionProgress: adoptionProgress
            )
        }
        var configuration = configuration
        let clients = PostgresClients()
        configuration.postgresClients = clients
        let running = Task { try await clients.run() }
        do {
            return try await open(
                configuration,
                ownPostgresClients: running,
                logger: logger,
                adoptionProgress: adoptionProgress
            )
        } catch {
            running.cancel()
            throw error
        }
    }

    /// ``open(_:logger:adoptionProgress:)`` with its runner of PostgreSQL clients settled.
    private static func open(
        _ configuration: CollegeDBConfiguration,
        ownPostgresClients: Task<Void, any Error>?,
        logger: Logger,
        adoptionProgress: @escaping @Sendable (String) -> Void
    ) async throws -> CollegeDB {
        var seen = Set<String>()
        for descriptor in configuration.configuredShards {
            try ShardName.validate(descriptor.name)
            guard seen.insert(descriptor.name).inserted else {
                throw CollegeDBError.invalidParams("shard names must be unique: '\(descriptor.name)' is given twice")
            }
        }
        if configuration.catalog != nil, let local = configuration.configuredShards.first(where: { $0.postgres == nil })
        {
            throw CollegeDBError.invalidParams(
                "shard '\(local.name)' is a SQLite file, which the other daemons of a shared catalog cannot reach; "
                    + "with --catalog every shard must be a PostgreSQL database"
            )
        }
        let (lock, store, configuration, descriptors, databases, draining) = try await BlockingWork.run {
            let lock = try DataDirectoryLock(directory: configuration.dataDirectory)
            for leftover in try BackupLeftovers(dataDirectory: configuration.dataDirectory).removeLeftovers() {
                logger.notice(
                    "removed the temporary directory of a backup a stop cut short",
                    metadata: ["directory": "\(leftover)"]
                )
            }
            let store = try configuration.openCatalog(logger: logger)
            // collegedb_id() on every SQLite shard opened from here on, with the catalog's counters.
            var configuration = configuration
            configuration.shardSettings.identifiers = ClusterIdentifiers { try store.reserveIdentifiers($0) }
            let directory = try configuration.directoryShards()
            for skipped in directory.skipped {
                logger.warning(
                    "a file of the shard directory is not a shard: its name is not a valid shard name",
                    metadata: ["file": "\(skipped)"]
                )
            }
            let descriptors = try configuration.effectiveShards(
                registrations: try store.shardRegistrations(),
                directory: directory.shards
            )
            if let configured = try configuration.fitOpenShardsToDescriptorLimit(
                sqliteShards: descriptors.count { $0.postgres == nil }
            ) {
                logger.warning(
                    "fewer SQLite shards are kept open than configured: the open-file limit affords no more",
                    metadata: [
                        "maxOpenShards": "\(configuration.maxOpenShards)", "configured": "\(configured)",
                        "openFileLimit": "\(DescriptorBudget.processLimit)",
                    ]
                )
            }
            configuration.shardSettings.openShards = OpenShardSlots(
                maximum: configuration.maxOpenShards,
                hardLimit: DescriptorBudget(reservedForClients: configuration.descriptorsReservedForClients)
                    .openShardsThatFit(limit: DescriptorBudget.processLimit)
            )
            let saved = try store.savedMetrics()
            let refusedFiles = configuration.checkFiles(of: descriptors)
            let checkingAtFirstOpen = !configuration.checksFilesEagerly(descriptors)
            let databases = try descriptors.map { descriptor -> any ShardBackend in
                if let refusal = refusedFiles[descriptor.name] {
                    // Not a file this shard may use (another shard's, the mapping store's, not
                    // SQLite): like a file that cannot be opened, the shard serves no call and
                    // the others do; its file is not touched.
                    return ShardDatabase(
                        name: descriptor.name,
                        path: configuration.path(of: descriptor),
                        unavailable: refusal
                    )
                }
                return try configuration.openShard(
                    descriptor,
                    savedMetrics: saved[descriptor.name],
                    checkingFileAtFirstOpen: checkingAtFirstOpen,
                    logger: logger
                )
            }
            return (lock, store, configuration, descriptors, databases, try store.drainingShards())
        }
        for shard in databases {
            if let reason = shard.unavailableReason {
                logger.error(
                    "a shard does not serve; the others do",
                    metadata: ["shard": "\(shard.name)", "reason": "\(reason)"]
                )
            }
        }
        let registry = ShardRegistry(shards: databases, descriptors: descriptors)
        let coordinator = ShardCoordinator(
            registry: registry,
            configuration: configuration,
            store: store,
            draining: draining,
            logger: logger
        )
        let database = CollegeDB(
            coordinator: coordinator,
            catalog: store,
            directoryLock: lock,
            mappingCacheCapacity: configuration.mappingCacheCapacity,
            ownPostgresClients: ownPostgresClients,
            logger: logger
        )
        database.followCatalogChanges()
        coordinator.preparingNewShards { [weak database] shard in try await database?.catchUpSchema(of: shard) }
        await database.prepareIdentifiers(on: registry.shards)
        try await database.recoverMoves()
        await database.catchUpSchemasAtOpen()
        try await database.adoptAtOpen(progress: adoptionProgress)
        try await database.resumeRebalancing()
        return database
    }

    // MARK: Routed by key

    /// Runs a statement on the key's shard; an unmapped key is allocated first (with the write
    /// strategy, persisted before the statement runs).
    ///
    /// - Parameters:
    ///   - key: The lookup key that routes the call.
    ///   - statement: One SQL statement and its bindings.
    ///   - limits: The time limit and cancellation. The default is the shard's statement timeout.
    /// - Returns: The number of changed rows and the last row id, with no rows.
    /// - Throws: `CollegeDBError`: `QUERY_FAILED` (with SQLite's codes), `STATEMENT_REFUSED`,
    ///   `STATEMENT_TIMEOUT`, `SHARD_UNAVAILABLE`, `NO_SHARDS`, `OVERLOADED`, `INVALID_PARAMS`.
    public func run(
        key: String,
        _ statement: SQLStatement,
        limits: QueryLimits = QueryLimits()
    ) async throws
        -> QueryResult
    {
        try await routed(
            key: key,
            readingOnly: nil,
            body: { try await $0.execute(statement, rowLimit: nil, limits: limits) }
        )
    }

    /// Runs a statement on the key's shard and returns all rows. An unmapped key is allocated
    /// only when the statement writes (SQLite compiles it as a write; PostgreSQL refuses it in
    /// a `READ ONLY` transaction); a read of it routes with the read strategy and persists
    /// nothing.
    ///
    /// - Parameters:
    ///   - key: The lookup key that routes the call.
    ///   - statement: One SQL statement and its bindings.
    ///   - limits: The time limit and cancellation. The default is the shard's statement timeout.
    /// - Returns: Every row, in order, and the statement's changes.
    /// - Throws: `CollegeDBError`, as ``run(key:_:limits:)`` does, and `RESULT_TOO_LARGE`.
    public func all(
        key: String,
        _ statement: SQLStatement,
        limits: QueryLimits = QueryLimits()
    ) async throws
        -> QueryResult
    {
        try await routed(
            key: key,
            readingOnly: { try await $0.executeIfReadOnly(statement, rowLimit: nil, limits: limits) },
            body: { try await $0.execute(statement, rowLimit: nil, limits: limits) }
        )
    }

    /// Like ``all(key:_:limits:)``, but reads at most one row.
    ///
    /// - Parameters:
    ///   - key: The lookup key that routes the call.
    ///   - statement: One SQL statement and its bindings.
    ///   - limits: The time limit and cancellation. The default is the shard's statement timeout.
    /// - Returns: A result holding the first row, or none.
    /// - Throws: `CollegeDBError`, as ``all(key:_:limits:)`` does.
    public func first(
        key: String,
        _ statement: SQLStatement,
        limits: QueryLimits = QueryLimits()
    ) async throws
        -> QueryResult
    {
        try await routed(
            key: key,
            readingOnly: { try await $0.executeIfReadOnly(statement, rowLimit: 1, limits: limits) },
            body: { try await $0.execute(statement, rowLimit: 1, limits: limits) }
        )
    }

    /// Runs `statements` on the key's shard in one transaction; an unmapped key is allocated.
    ///
    /// - Parameters:
    ///   - key: The lookup key that routes the call.
    ///   - statements: The statements, run in order; all commit or none does.
    ///   - limits: The time limit for the whole batch, and cancellation. The default is the
    ///     shard's statement timeout.
    /// - Returns: One result per statement.
    /// - Throws: `CollegeDBError` of the first statement that failed; nothing was committed.
    public func batch(
        key: String,
        _ statements: [SQLStatement],
        limits: QueryLimits = QueryLimits()
    ) async throws
        -> [QueryResult]
    {
        try await routed(
            key: key,
            readingOnly: nil,
            body: { try await $0.executeBatch(statements, limits: limits) }
        )
    }

    /// Compiles `sql` on the key's shard without running it; never allocates.
    ///
    /// - Parameters:
    ///   - key: The lookup key that routes the call.
    ///   - sql: One SQL statement.
    /// - Returns: The shard, the parameter count, the result columns and whether it is read-only.
    /// - Throws: `CollegeDBError`: `QUERY_FAILED` when SQLite cannot compile it, `STATEMENT_REFUSED`.
    public func prepare(key: String, sql: String) async throws -> StatementDescription {
        try Self.validate(key: key)
        if let mapped = try await mappedShard(key: key) { return try await mapped.describe(sql) }
        return try await coordinator.readTarget(key: key, kind: coordinator.policy.strategy.read).describe(sql)
    }

    /// Runs `body` on the key's shard: its mapped shard (after any move of its record). For an
    /// unmapped key, `readingOnly` runs the call on the read strategy's pick if it only reads
    /// (nil when it writes, having done nothing); a call that writes (or has no `readingOnly`)
    /// runs with `body` on a newly allocated shard.
    /// A first write that fails leaves no mapping behind: the new record is held alone (as a
    /// move holds it) until its first write has committed, and removed if that write failed.
    private func routed<T: Sendable>(
        key: String,
        readingOnly: (@Sendable (any ShardBackend) async throws -> T?)?,
        body: @escaping @Sendable (any ShardBackend) async throws -> T
    ) async throws -> T {
        try Self.validate(key: key)
        let locks = coordinator.locks
        while true {
            let epoch = locks.epoch
            guard let record = try await cachedRecord(forKey: key, epoch: epoch) else {
                if let readingOnly {
                    let readTarget = try await coordinator.readTarget(key: key, kind: coordinator.policy.strategy.read)
                    if let read = try await readingOnly(readTarget) { return read }
                }
                if let written = try await allocateAndWriteFirst(key: key, body: body) { return written }
                continue
            }
            switch locks.enter(record.id, readAt: epoch) {
            case .stale:
                continue
            case .moving:
                try await locks.waitWhileMoving(record.id)
            case .entered:
                defer { locks.leave(record.id) }
                let shard = try coordinator.registry.mappedDatabase(named: record.shard, key: key)
                do {
                    return try await fenced(record: record.id, on: shard) { try await body(shard) }
                } catch is RecordFence.MovedAway {
                    locks.mappingChanged(record.id)
                }
            }
        }
    }

    /// Runs `body`, a call on `shard` for `record`, behind the record's ``RecordFence`` when
    /// other daemons may move it (a shared catalog, a PostgreSQL shard).
    /// - Throws: ``RecordFence/MovedAway`` when the record had left the shard.
    private func fenced<T: Sendable>(
        record: Int64,
        on shard: any ShardBackend,
        _ body: () async throws -> T
    ) async throws -> T {
        guard catalog.isShared, shard.backendKind == .postgres else { return try await body() }
        return try await RecordFence.$current.withValue(
            RecordFence(record: record, shard: shard.name, catalog: catalog),
            operation: body
        )
    }

    /// Allocates `key` and runs its first write with the new record held alone; removes the
    /// record again when the write fails. Returns nil when another caller mapped the key first.
    private func allocateAndWriteFirst<T: Sendable>(
        key: String,
        body: @escaping @Sendable (any ShardBackend) async throws -> T
    ) async throws -> T? {
        let locks = coordinator.locks
        let allocation = try await coordinator.allocate(key: key, kind: coordinator.policy.strategy.write) {
            locks.holdNew($0)
        }
        guard allocation.created, let record = allocation.record else { return nil }
        do {
            let shard = try coordinator.registry.mappedDatabase(named: allocation.shard, key: key)
            let written = try await fenced(record: record, on: shard) { try await body(shard) }
            locks.releaseNew(record, removed: false)
            return written
        } catch is RecordFence.MovedAway {
            // Another daemon moved the new record before its first write: route it again.
            locks.releaseNew(record, removed: true)
            return nil
        } catch {
            // A shared catalog's record may be routed by another daemon already: it stays.
            let catalog = self.catalog
            var removed = false
            if !catalog.isShared {
                do {
                    try await BlockingWork.run { try catalog.deleteRecord(id: record) }
                    removed = true
                } catch let removal {
                    // The key stays mapped to its shard with no rows: what an allocation without a
                    // write leaves, which reads as empty.
                    logger.error(
                        "a failed first write's mapping could not be removed",
                        metadata: ["record": "\(record)", "error": "\(removal)"]
                    )
                }
            }
            locks.releaseNew(record, removed: removed)
            throw error
        }
    }

    /// The record `key` belongs to as of mapping epoch `epoch`: from the cache, else from the
    /// store (and then cached). Blocks on SQLite on a miss.
    package func record(forKey key: String, epoch: UInt64) throws -> (id: Int64, shard: String)? {
        if let cached = mappingCache.record(forKey: key) { return cached }
        guard let record = try catalog.record(forKey: key) else { return nil }
        mappingCache.remember(key: key, record: record.id, shard: record.shard, epoch: epoch)
        return record
    }

    /// `record(forKey:epoch:)` without blocking the caller: a cache hit answers at once, a miss
    /// reads the store on a blocking-work thread.
    private func cachedRecord(forKey key: String, epoch: UInt64) async throws -> (id: Int64, shard: String)? {
        if let cached = mappingCache.record(forKey: key) { return cached }
        return try await BlockingWork.run { try self.record(forKey: key, epoch: epoch) }
    }

    /// The shard the key is mapped to, or nil when it is unmapped.
    func mappedShard(key: String) async throws -> (any ShardBackend)? {
        let catalog = self.catalog
        guard let name = try await BlockingWork.run({ try catalog.shard(forKey: key) }) else { return nil }
        return try coordinator.registry.mappedDatabase(named: name, key: key)
    }

    /// Drops cached routes of records another daemon re-pointed or removed, reads the drained
    /// and the registered shards again when another daemon changed them, and routes without the
    /// cache while the catalog cannot say (a shared catalog's listener is down).
    private func followCatalogChanges() {
        let locks = coordinator.locks
        let cache = mappingCache
        let catalog = self.catalog
        let coordinator = self.coordinator
        let logger = self.logger
        catalog.watchChanges(
            changed: { record in
                if let record { locks.mappingChanged(record) } else { locks.mappingsChanged() }
            },
            othersChanged: { change in
                Task {
                    do {
                        switch change {
                        case .drainedShards:
                            let draining = try await BlockingWork.run { try catalog.drainingShards() }
                            coordinator.draining.withLock { $0 = draining }
                        case .registeredShards:
                            let (added, removed) = try await coordinator.followRegistrations()
                            if !added.isEmpty || !removed.isEmpty {
                                logger.notice(
                                    "the known shards changed by another daemon",
                                    metadata: ["added": "\(added)", "removed": "\(removed)"]
                                )
                            }
                        }
                    } catch {
                        logger.warning(
                            "cannot follow the catalog's \(change.rawValue) change",
                            metadata: ["reason": "\(error)"]
                        )
                    }
                }
            },
            listening: { cache.serving = $0 }
        )
    }

    /// The SQLite mapping store, for the work that keeps its progress there (adoption).
    /// - Throws: `UNSUPPORTED_ON_BACKEND` with a shared PostgreSQL catalog.
    package var mappingStore: MappingStore {
        get throws { try catalog.sqliteStore(for: "adoption") }
    }

    static func validate(key: String) throws {
        guard !key.isEmpty else { throw CollegeDBError.invalidParams("key: must not be empty") }
    }
}
