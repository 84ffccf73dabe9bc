import PostgresNIO

/// Moves records' rows between two PostgreSQL shards with ``PostgresRecordMover``: fenced
/// against every daemon of the catalog; a plan's batch in one move whose flip marks the plan's
/// moves done in the same catalog transaction.
struct PostgresShardMover: ShardMover {
    let source: PostgresShard
    let target: PostgresShard
    let context: MoveContext

    private var mover: PostgresRecordMover {
        PostgresRecordMover(catalog: context.catalog, ownership: context.ownership, killPoint: context.killPoint)
    }

    /// Two when both shards' pools have room for them beside their clients (``lanePoolSize``
    /// connections or more): a batch mostly waits for round trips, so a second one moves
    /// meanwhile; each lane leases a connection of each shard for its batch.
    var lanes: Int { min(source.address.poolSize, target.address.poolSize) >= Self.lanePoolSize ? 2 : 1 }

    /// The pool size from which two batches move at once.
    static let lanePoolSize = 4

    func move(key: String, recordID: Int64, table: String?) async throws -> Int {
        try await mover.move(key: key, recordID: recordID, from: source, to: target, table: table)
    }

    func findKeyTexts(of records: [Int64], in keyTexts: KeyTextCache) async throws {
        _ = try await texts(of: records, in: keyTexts)
    }

    func move(planID: Int64, records: [Int64], keyTexts: KeyTextCache) async throws -> MoveBatchOutcome {
        var outcome = MoveBatchOutcome()
        let catalog = context.catalog
        let current = try await BlockingWork.run { try catalog.shards(ofRecords: records) }
        let (moving, skipped) = MoveBatchOutcome.stillOn(source.name, records, current: current)
        outcome.skipped = skipped
        guard !moving.isEmpty else { return outcome }
        let (stored, texts) = try await self.texts(of: moving, in: keyTexts)
        var keys: [String: Int64] = [:]
        var unresolved: [StoredKey: Int64] = [:]
        for (key, record) in stored {
            if let text = texts[key] { keys[text] = record } else { unresolved[key] = record }
        }
        let moved = try await mover.move(
            records: moving,
            keys: keys,
            unresolved: unresolved,
            from: source,
            to: target,
            table: nil,
            planID: planID
        )
        outcome.rows = moved.rows
        outcome.skipped += moved.gone.map { ($0, "it moved or was removed after planning") }
        return outcome
    }

    /// The stored keys of `records`, and the plain text of those found on the source (from the
    /// cache when it has them).
    private func texts(
        of records: [Int64],
        in keyTexts: KeyTextCache
    ) async throws -> (stored: [StoredKey: Int64], texts: [StoredKey: String]) {
        let catalog = context.catalog
        let stored = try await BlockingWork.run { try catalog.storedKeys(ofRecords: records) }
        let (ownership, source) = (context.ownership, source)
        let texts = try await BlockingWork.runLong {
            let tables = try source.owningTables(ownership: ownership)
            return try keyTexts.texts(of: stored.keys, on: source, tables: tables)
        }
        return (stored, texts)
    }

    func recover(_ intent: MoveIntent) async throws {
        try await mover.recover(intent, source: source, target: target)
    }

    /// A shard or the catalog that does not answer stops the job, as every backend's do; so
    /// does a lost connection to either shard.
    func stoppingError(_ error: any Error) -> CollegeDBError? {
        if let failure = failureOfShardOrCatalog(error) { return failure }
        guard let reason = PostgresShard.connectionFailure(error, leased: true) else { return nil }
        return CollegeDBError(
            .shardUnavailable,
            "shard '\(source.name)' or '\(target.name)' cannot be reached: \(reason)"
        )
    }

    /// The server's message and SQLSTATE for a statement it failed, else the error itself.
    func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError, let sqlState = error.sqlState else { return "\(error)" }
        return "\(error.serverInfo?[.message] ?? "failed") (SQLSTATE \(sqlState))"
    }
}

extension PostgresShard {
    package func mover(to target: any ShardBackend, context: MoveContext) throws -> any ShardMover {
        guard let target = target as? PostgresShard else { throw moveBetweenKinds(to: target) }
        return PostgresShardMover(source: self, target: target, context: context)
    }
}
