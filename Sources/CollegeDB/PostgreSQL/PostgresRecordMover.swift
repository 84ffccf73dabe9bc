import Logging
import PostgresNIO

/// Moves records' rows between two PostgreSQL shards, fenced against the calls of every daemon
/// of the catalog and recoverable after a crash: one record for `reassignShard`, a batch of a
/// rebalance plan's records at once.
///
/// The move runs inside one transaction on the source shard that first takes each record's
/// exclusive advisory lock (``RecordFence``), in record order: calls routed there before it
/// commit first, later ones wait. Under the locks it checks that the catalog still puts each
/// record there, records the intent (the records, the tables, their owning columns and the
/// keys), reads the keys' rows as JSON, inserts them on the target in a transaction of the
/// target's, points the records at the target (one catalog commit, which notifies every
/// daemon), deletes the rows on the source and commits, which lets the waiting calls on to find
/// the records gone and route again. Nothing of the keys can be written on the source after the
/// flip, and nothing is lost before it.
///
/// A crash leaves the intent, the source transaction rolled back by the server, and the
/// target's copy committed or not: ``recover(_:source:target:)`` deletes the records' rows on
/// whichever of the two shards the catalog does not put them on.
struct PostgresRecordMover: Sendable {
    let catalog: any MappingCatalog
    /// Table to owning column, beyond the default (tables whose primary key is `id`).
    let ownership: [String: String]
    let killPoint: TestKillPoint

    /// What a move did: the records it moved and the rows that went with them, and the records
    /// it left because the catalog no longer put them on the source.
    struct Outcome: Sendable {
        var moved: [Int64] = []
        var rows = 0
        var gone: [Int64] = []
    }

    /// Moves the rows `key` owns (in `table` only, if given) and then record `recordID`'s
    /// mapping; returns how many rows moved.
    /// - Throws: `MAPPING_NOT_FOUND` when the record is no longer on `source`.
    func move(
        key: String,
        recordID: Int64,
        from source: PostgresShard,
        to target: PostgresShard,
        table: String?
    ) async throws -> Int {
        let outcome = try await move(
            records: [recordID],
            keys: [key: recordID],
            from: source,
            to: target,
            table: table
        )
        guard outcome.gone.isEmpty else {
            throw CollegeDBError(
                .mappingNotFound,
                "key '\(key)' is no longer on shard '\(source.name)' (another daemon moved or removed it)"
            )
        }
        return outcome.rows
    }

    /// Moves the rows of `records` (in `table` only, if given) and then their mappings.
    ///
    /// - Parameters:
    ///   - records: The records to move.
    ///   - keys: The keys whose rows move, as the owning columns hold them, each with its record.
    ///   - unresolved: Stored keys (digests) whose text is not known, each with its record: the
    ///     owning columns are read under the locks, and every value whose digest is one of them
    ///     moves too. The default is none.
    ///   - planID: The rebalance plan the move is part of: its flip marks the plan's moves done
    ///     in the same catalog transaction. The default is none (`reassignShard`).
    func move(
        records: [Int64],
        keys: [String: Int64],
        unresolved: [StoredKey: Int64] = [:],
        from source: PostgresShard,
        to target: PostgresShard,
        table: String?,
        planID: Int64? = nil
    ) async throws -> Outcome {
        let catalog = self.catalog
        let ownership = self.ownership
        let killPoint = self.killPoint
        let (moveID, outcome) = try await source.withConnection { connection in
            try await source.transaction(on: connection) { () async throws -> (Int64?, Outcome) in
                try await Self.lock(records, on: connection, logger: source.logger)
                let current = try await BlockingWork.run { try catalog.shards(ofRecords: records) }
                var outcome = Outcome()
                let present = Set(records.filter { current[$0] == source.name })
                outcome.gone = records.filter { !present.contains($0) }
                guard !present.isEmpty else { return (nil, outcome) }
                outcome.moved = records.filter(present.contains)
                let tables = try await source.owningTables(on: connection, only: table, ownership: ownership)
                var texts = Set(keys.filter { present.contains($0.value) }.keys)
                let wanted = unresolved.filter { present.contains($0.value) }
                if !wanted.isEmpty {
                    let codec = catalog.keyCodec
                    try await source.forEachOwnerKey(on: connection, tables: tables, distinct: true) { text in
                        if wanted[codec.storedValue(for: text)] != nil { texts.insert(text) }
                    }
                }
                let ownerKeys = texts.sorted()
                var copies: [(table: MovePlan.Table, rows: String, count: Int)] = []
                for (table, column) in tables {
                    let owned = MovePlan.Table(name: table, column: column, sourceRowIDs: [])
                    for (rows, count) in try await Self.rows(
                        of: ownerKeys,
                        in: owned,
                        on: connection,
                        logger: source.logger
                    )
                    where count > 0 {
                        copies.append((owned, rows, count))
                    }
                }
                var seen = Set<MovePlan.Table>()
                let plan = MovePlan(
                    tables: copies.map(\.table).filter { seen.insert($0).inserted },
                    ownerKeys: ownerKeys,
                    records: outcome.moved
                )
                let moving = outcome.moved
                let moveID = try await BlockingWork.run {
                    try catalog.beginMove(recordID: moving[0], from: source.name, to: target.name, plan: plan)
                }
                outcome.rows = copies.map(\.count).reduce(0, +)
                killPoint.reached("after-intent")
                do {
                    try await Self.insert(copies.map { ($0.table, $0.rows) }, into: target)
                } catch {
                    // The target's transaction rolled back: only the intent is left.
                    await Self.undo(moveID, copied: nil, on: target, catalog: catalog)
                    throw error
                }
                killPoint.reached("after-copy")
                let rows = outcome.rows
                do {
                    try await BlockingWork.run {
                        if let planID {
                            try catalog.flipBatchMove(
                                moveID,
                                planID: planID,
                                records: moving,
                                from: source.name,
                                to: target.name,
                                rows: rows
                            )
                        } else {
                            try catalog.flipMove(moveID, recordID: moving[0], to: target.name)
                        }
                    }
                } catch {
                    await Self.undo(moveID, copied: plan, on: target, catalog: catalog)
                    throw error
                }
                killPoint.reached("after-flip")
                do {
                    for table in plan.tables {
                        try await Self.delete(ownerKeys, table: table, on: connection, logger: source.logger)
                    }
                } catch  where planID != nil {
                    // Flipped: a plan's records are on the target and no longer its batch's to
                    // retry, so the job stops; the intent has the next start delete their rows here.
                    throw MoveFinishFailure(error, source: source.name)
                }
                // The commit that follows releases the locks; the intent goes once it is done.
                return (moveID, outcome)
            }
        }
        guard let moveID else { return outcome }
        killPoint.reached("after-delete")
        try await BlockingWork.run { try catalog.finishMove(moveID) }
        return outcome
    }

    /// Finishes or undoes an interrupted move: under the records' exclusive locks on both
    /// shards, deletes their rows on the one the catalog does not put them on (they flip
    /// together), then forgets the intent.
    func recover(_ intent: MoveIntent, source: PostgresShard, target: PostgresShard) async throws {
        guard let keys = intent.plan.ownerKeys else { return }
        let records = intent.plan.records ?? [intent.recordID]
        let catalog = self.catalog
        try await source.withConnection { sourceConnection in
            try await source.transaction(on: sourceConnection) {
                try await Self.lock(records, on: sourceConnection, logger: source.logger)
                try await target.withConnection { targetConnection in
                    try await target.transaction(on: targetConnection) {
                        try await Self.lock(records, on: targetConnection, logger: target.logger)
                        let current = try await catalog.currentShard(ofRecord: intent.recordID)
                        let (shard, connection) =
                            current == target.name ? (source, sourceConnection) : (target, targetConnection)
                        guard current == source.name || current == target.name else { return }
                        // A table the copy never reached may be missing on the target.
                        for table in intent.plan.tables
                        where try await Self.exists(table.name, on: connection, logger: shard.logger) {
                            try await Self.delete(keys, table: table, on: connection, logger: shard.logger)
                        }
                    }
                }
            }
        }
        try await BlockingWork.run { try catalog.finishMove(intent.id) }
    }

    // MARK: Steps

    /// Waits for each record's exclusive lock, in record order (so that two movers cannot wait
    /// for each other), in the transaction open on `connection`.
    private static func lock(_ records: [Int64], on connection: PostgresConnection, logger: Logger) async throws {
        let keys = records.sorted().map(RecordFence.lockKey)
        try await connection.queryWhileOpen(
            "SELECT pg_advisory_xact_lock(k) FROM unnest(\(keys)::bigint[]) AS k",
            logger: logger
        )
    }

    /// Whether `table` exists in the session's current schema on `connection`.
    private static func exists(_ table: String, on connection: PostgresConnection, logger: Logger) async throws -> Bool
    {
        let rows = try await connection.queryWhileOpen(
            "SELECT to_regclass(\(table.quotedIdentifier)) IS NOT NULL",
            logger: logger
        )
        if let found = try rows.first(Bool.self) { return found }
        return false
    }

    /// Inserts each table's rows (a JSON array of row objects) on `target`, in one transaction,
    /// and checks in the same statement that the rows inserted are the rows read: as many, and
    /// the same text (an md5 of every row, in order), so that a trigger or a default on the
    /// target that changed them fails the copy, which then rolls back whole.
    /// - Throws: `QUERY_FAILED` when a copy differs from its source.
    private static func insert(
        _ copies: [(table: MovePlan.Table, rows: String)],
        into target: PostgresShard
    ) async throws {
        guard !copies.isEmpty else { return }
        try await target.withConnection { connection in
            try await target.transaction(on: connection) {
                for (table, rows) in copies {
                    let name = table.name.quotedIdentifier
                    let checked = try await connection.queryWhileOpen(
                        PostgresQuery(
                            unsafeSQL: """
                                WITH source AS (SELECT * FROM json_populate_recordset(NULL::\(name), $1::json)),
                                inserted AS (INSERT INTO \(name) OVERRIDING SYSTEM VALUE SELECT * FROM source RETURNING *)
                                SELECT (SELECT count(*) FROM source), (SELECT count(*) FROM inserted),
                                    (SELECT md5(coalesce(string_agg(s::text, ',' ORDER BY s::text), '')) FROM source s)
                                    = (SELECT md5(coalesce(string_agg(i::text, ',' ORDER BY i::text), '')) FROM inserted i)
                                """,
                            binds: PostgresValues.bindings([.text(rows)])
                        ),
                        logger: target.logger
                    )
                    for (read, written, same) in try checked.decode((Int64, Int64, Bool).self)
                    where read != written || !same {
                        throw CollegeDBError(
                            .queryFailed,
                            "the copy of table '\(table.name)' on shard '\(target.name)' differs from its source "
                                + "(\(written) row(s) written of \(read) read\(read == written ? ", their values changed" : ""))"
                        )
                    }
                }
            }
        }
    }

    /// Undoes a move that failed before its flip: deletes the copy of `copied` on `target` (when
    /// one committed) and forgets the intent. Its own failure is logged, not thrown: the intent,
    /// kept, has the next start finish the undo (``recover(_:source:target:)``).
    private static func undo(
        _ moveID: Int64,
        copied plan: MovePlan?,
        on target: PostgresShard,
        catalog: any MappingCatalog
    ) async {
        do {
            if let plan { try await deleteRows(of: plan, on: target) }
            try await BlockingWork.run { try catalog.finishMove(moveID) }
        } catch {
            target.logger.error(
                "a failed move could not be undone now; the next start undoes it",
                metadata: ["move": "\(moveID)", "error": "\(error)"]
            )
        }
    }

    /// Deletes the planned keys' rows of every table of `plan` on `shard`, in one transaction.
    private static func deleteRows(of plan: MovePlan, on shard: PostgresShard) async throws {
        guard let keys = plan.ownerKeys else { return }
        try await shard.withConnection { connection in
            try await shard.transaction(on: connection) {
                for table in plan.tables { try await delete(keys, table: table, on: connection, logger: shard.logger) }
            }
        }
    }

    /// Deletes the rows of `table` whose owning column holds one of `keys`.
    private static func delete(
        _ keys: [String],
        table: MovePlan.Table,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        _ = try await matching(keys, in: table, on: connection, logger: logger) { condition, binds in
            try await connection.queryWhileOpen(
                PostgresQuery(
                    unsafeSQL: "DELETE FROM \(table.name.quotedIdentifier) t WHERE \(condition)",
                    binds: binds
                ),
                logger: logger
            )
            return ()
        }
    }

    /// The rows of `table` whose owning column holds one of `keys`, as JSON arrays, each with its
    /// count. A key that is no value of the column's type (`user:1` for an integer column) holds
    /// none of its rows.
    private static func rows(
        of keys: [String],
        in table: MovePlan.Table,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [(String, Int)] {
        try await matching(keys, in: table, on: connection, logger: logger) { condition, binds in
            let rows = try await connection.queryWhileOpen(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT coalesce(json_agg(t), '[]')::text, count(*) FROM \(table.name.quotedIdentifier) t
                        WHERE \(condition)
                        """,
                    binds: binds
                ),
                logger: logger
            )
            if let (json, count) = try rows.first((String, Int64).self) { return (json, Int(count)) }
            return ("[]", 0)
        }
    }

    /// Runs `body` with a condition on the owning column that selects the rows of `keys`: all of
    /// them at once, the keys cast to the column's type as an array (its index serves); when a
    /// key is no value of that type, once per key that is. Each attempt is inside a savepoint,
    /// so a failed cast leaves the transaction usable.
    private static func matching<T: Sendable>(
        _ keys: [String],
        in table: MovePlan.Table,
        on connection: PostgresConnection,
        logger: Logger,
        _ body: (_ condition: String, _ binds: PostgresBindings) async throws -> T
    ) async throws -> [T] {
        guard !keys.isEmpty else { return [] }
        let type = try await columnType(of: table, on: connection, logger: logger)
        let column = "t." + table.column.quotedIdentifier
        var all = PostgresBindings()
        all.append(keys)
        if let all = try await attempt(
            on: connection,
            logger: logger,
            {
                try await body("\(column) = ANY($1::text[]::\(type)[])", all)
            }
        ) {
            return [all]
        }
        var results: [T] = []
        for key in keys {
            var one = PostgresBindings()
            one.append(key)
            if let result = try await attempt(
                on: connection,
                logger: logger,
                {
                    try await body("\(column) = $1::text::\(type)", one)
                }
            ) {
                results.append(result)
            }
        }
        return results
    }

    /// `body`'s answer, or nil when it failed because a value does not convert to a column's
    /// type (the savepoint around it undoes the failure).
    private static func attempt<T: Sendable>(
        on connection: PostgresConnection,
        logger: Logger,
        _ body: () async throws -> T
    ) async throws -> T? {
        try await connection.queryWhileOpen("SAVEPOINT collegedb_owned_rows", logger: logger)
        do {
            let value = try await body()
            try await connection.queryWhileOpen("RELEASE SAVEPOINT collegedb_owned_rows", logger: logger)
            return value
        } catch let error as PSQLError where error.sqlState.map(notOfTheColumnsType.contains) == true {
            try await connection.queryWhileOpen("ROLLBACK TO SAVEPOINT collegedb_owned_rows", logger: logger)
            return nil
        }
    }

    /// The SQL type of the owning column, as `format_type` spells it (quoted where it must be).
    private static func columnType(
        of table: MovePlan.Table,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> String {
        let rows = try await connection.queryWhileOpen(
            """
            SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
            WHERE a.attrelid = to_regclass(\(table.name.quotedIdentifier)) AND a.attname = \(table.column)
                AND NOT a.attisdropped
            """,
            logger: logger
        )
        if let type = try rows.first(String.self) { return type }
        throw CollegeDBError(.invalidTableName, "table '\(table.name)' has no column '\(table.column)'")
    }

    /// SQLSTATEs of a value that does not convert to a column's type: invalid text
    /// representation, out of range, bad datetime format or field.
    private static let notOfTheColumnsType: Set<String> = ["22P02", "22003", "22007", "22008"]
}
