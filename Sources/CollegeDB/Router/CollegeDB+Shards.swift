extension CollegeDB {
    /// The default number of shards a fan-out call runs at once.
    public static let defaultFanOutBatchSize = 50

    /// Runs a statement on the named shard, with no routing. `rowLimit` 1 serves `firstShard`.
    public func execute(
        onShard shard: String,
        _ statement: SQLStatement,
        rowLimit: Int? = nil,
        limits: QueryLimits = QueryLimits()
    ) async throws
        -> QueryResult
    {
        try await coordinator.registry.database(named: shard).execute(statement, rowLimit: rowLimit, limits: limits)
    }

    /// Runs a statement on every shard, at most `batchSize` at once, and returns one entry per
    /// shard in shard order; a failing shard fails only its own entry.
    public func executeOnAllShards(
        _ statement: SQLStatement,
        batchSize: Int = defaultFanOutBatchSize,
        rowLimit: Int? = nil,
        limits: QueryLimits = QueryLimits()
    )
        async throws -> [FanOutResult]
    {
        try await executeOnAllShards({ _ in statement }, batchSize: batchSize, rowLimit: rowLimit, limits: limits)
    }

    /// Like the public `executeOnAllShards`, with the statement written for each shard's
    /// backend by `statement`.
    /// With `readingOnly`, a shard on which the statement would write runs nothing and fails
    /// its entry with `INVALID_PARAMS`: SQLite compiles it and checks `sqlite3_stmt_readonly`,
    /// PostgreSQL runs it in a `READ ONLY` transaction.
    func executeOnAllShards(
        _ statement: @escaping @Sendable (any ShardBackend) -> SQLStatement,
        batchSize: Int = defaultFanOutBatchSize,
        rowLimit: Int? = nil,
        readingOnly: Bool = false,
        limits: QueryLimits = QueryLimits()
    )
        async throws -> [FanOutResult]
    {
        guard batchSize >= 1 else { throw CollegeDBError.invalidParams("batchSize: must be >= 1") }
        let shards = coordinator.registry.shards
        guard !shards.isEmpty else { throw CollegeDBError(.noShards, "no shard is configured") }
        // A fan-out keeps no more SQLite shards open at once than stay open when idle, nor
        // more than half of those the open-file limit affords, leaving room for other calls.
        let slots = coordinator.openShards
        let concurrency = min(batchSize, slots.maximum, max(1, slots.hardLimit / 2))
        return await BoundedConcurrency.map(shards, limit: concurrency) { shard in
            // A caller gone (or a stop) leaves the shards not yet started alone.
            if Task.isCancelled || limits.cancellation?.isCancelled == true {
                return FanOutResult(
                    shard: shard.name,
                    outcome: .failure(
                        CollegeDBError(.cancelled, "the call was cancelled before shard '\(shard.name)' ran")
                    )
                )
            }
            do {
                let result: QueryResult
                if readingOnly {
                    guard
                        let read = try await shard.executeIfReadOnly(
                            statement(shard),
                            rowLimit: rowLimit,
                            limits: limits
                        )
                    else { throw CollegeDBError.invalidParams(Self.readsOnlyMessage) }
                    result = read
                } else {
                    result = try await shard.execute(statement(shard), rowLimit: rowLimit, limits: limits)
                }
                return FanOutResult(shard: shard.name, outcome: .success(result))
            } catch {
                return FanOutResult(shard: shard.name, outcome: .failure(.fromQuery(error, shard: shard.name)))
            }
        }
    }

    /// The size of the named shard in bytes: `page_count * page_size` for a SQLite file,
    /// `pg_database_size` for a PostgreSQL database.
    public func databaseSize(shard: String) async throws -> Int64 {
        try await coordinator.registry.database(named: shard).measureSize()
    }

    /// Runs every statement of `schema` on each shard (or only `shard`), each shard in one
    /// transaction, in shard order; stops at the first shard that fails, naming those done.
    public func createSchema(
        _ schema: String,
        shard: String? = nil,
        limits: QueryLimits = QueryLimits()
    ) async throws
        -> SchemaResult
    {
        let registry = coordinator.registry
        let targets = try shard.map { [try registry.database(named: $0)] } ?? registry.shards
        var done: [String] = []
        var statementCount = 0
        for target in targets {
            do {
                statementCount = try await target.executeScript(schema, limits: limits)
            } catch let error as CollegeDBError {
                let applied = done.isEmpty ? "none" : done.joined(separator: ", ")
                throw CollegeDBError(
                    error.code,
                    "\(error.message) (schema applied on: \(applied))",
                    sqlite: error.sqlite
                )
            }
            done.append(target.name)
        }
        guard statementCount > 0 || targets.isEmpty else {
            throw CollegeDBError.invalidParams("schema: no SQL statement given")
        }
        return SchemaResult(shards: done, statements: statementCount)
    }
}

/// What `createSchema` did: the shards it ran on and how many statements each ran.
public struct SchemaResult: Sendable, Hashable {
    public var shards: [String]
    public var statements: Int
}
