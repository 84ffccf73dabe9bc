import GRDB
import Logging
import PostgresNIO

/// Moves one record's rows between two PostgreSQL shards, fenced against the calls of every
/// daemon of the catalog and recoverable after a crash.
///
/// The move runs inside one transaction on the source shard that first takes the record's
/// exclusive advisory lock (``RecordFence``): calls routed there before it commit first, later
/// ones wait. Under the lock it checks that the catalog still puts the record there, records
/// the intent (the tables, their owning columns and the key), reads the key's rows as JSON,
/// inserts them on the target in a transaction of the target's, points the record at the
/// target (the catalog's commit notifies every daemon), deletes the rows on the source and
/// commits, which lets the waiting calls on to find the record gone and route again. Nothing
/// of the key can be written on the source after the flip, and nothing is lost before it.
///
/// A crash leaves the intent, the source transaction rolled back by the server, and the
/// target's copy committed or not: ``recover(_:source:target:)`` deletes the record's rows on
/// whichever of the two shards the catalog does not put it on.
struct PostgresRecordMover: Sendable {
    let catalog: any MappingCatalog
    /// Table to owning column, beyond the default (tables whose primary key is `id`).
    let ownership: [String: String]
    let killPoint: TestKillPoint

    /// Moves the rows `keys` own (in `table` only, if given) and then the record's mapping;
    /// returns how many rows moved.
    ///
    /// - Parameters:
    ///   - keys: The keys of the record whose rows move, as the owning columns hold them.
    ///   - unresolved: Stored keys (digests) of the record whose text is not known: the owning
    ///     columns are read under the record's lock and every value whose digest is one of
    ///     them moves too. The default is none.
    ///   - planID: The rebalance plan the move is part of: its flip marks the plan's move done
    ///     in the same catalog transaction. The default is none (`reassignShard`).
    /// - Throws: `MAPPING_NOT_FOUND` when the record is no longer on `source`.
    func move(
        keys: [String],
        unresolved: Set<DatabaseValue> = [],
        recordID: Int64,
        from source: PostgresShard,
        to target: PostgresShard,
        table: String?,
        planID: Int64? = nil
    ) async throws -> Int {
        let catalog = self.catalog
        let ownership = self.ownership
        let killPoint = self.killPoint
        let (moveID, rowsMoved) = try await source.withConnection { connection in
            try await source.transaction(on: connection) {
                try await Self.lock(recordID, on: connection, logger: source.logger)
                let current = try await catalog.currentShard(ofRecord: recordID)
                guard current == source.name else {
                    throw CollegeDBError(
                        .mappingNotFound,
                        "record \(recordID) is no longer on shard '\(source.name)' (another daemon moved or removed it)"
                    )
                }
                let tables = try await source.owningTables(on: connection, only: table, ownership: ownership)
                var keys = keys
                if !unresolved.isEmpty {
                    let codec = catalog.keyCodec
                    var found = Set(keys)
                    try await source.forEachOwnerKey(on: connection, tables: tables, distinct: true) { text in
                        if unresolved.contains(codec.storedValue(for: text)), found.insert(text).inserted {
                            keys.append(text)
                        }
                    }
                }
                var copies: [(table: MovePlan.Table, rows: String, count: Int)] = []
                for (table, column) in tables {
                    let owned = MovePlan.Table(name: table, column: column, sourceRowIDs: [])
                    for key in keys {
                        guard
                            let (rows, count) = try await Self.rows(
                                of: key,
                                in: owned,
                                on: connection,
                                logger: source.logger
                            ),
                            count > 0
                        else { continue }
                        copies.append((owned, rows, Int(count)))
                    }
                }
                var seen = Set<MovePlan.Table>()
                let plan = MovePlan(tables: copies.map(\.table).filter { seen.insert($0).inserted }, ownerKeys: keys)
                let moveID = try await BlockingWork.run {
                    try catalog.beginMove(recordID: recordID, from: source.name, to: target.name, plan: plan)
                }
                let rowsMoved = copies.map(\.count).reduce(0, +)
                killPoint.reached("after-intent")
                do {
                    try await Self.insert(copies.map { ($0.table, $0.rows) }, into: target)
                } catch {
                    try? await BlockingWork.run { try catalog.finishMove(moveID) }
                    throw error
                }
                killPoint.reached("after-copy")
                do {
                    try await BlockingWork.run {
                        if let planID {
                            try catalog.flipBatchMove(
                                moveID,
                                planID: planID,
                                records: [recordID],
                                from: source.name,
                                to: target.name,
                                rows: rowsMoved
                            )
                        } else {
                            try catalog.flipMove(moveID, recordID: recordID, to: target.name)
                        }
                    }
                } catch {
                    try? await Self.deleteRows(of: plan, on: target)
                    try? await BlockingWork.run { try catalog.finishMove(moveID) }
                    throw error
                }
                killPoint.reached("after-flip")
                for table in plan.tables {
                    for key in keys {
                        try await Self.delete(key: key, table: table, on: connection, logger: source.logger)
                    }
                }
                // The commit that follows releases the lock; the intent goes once it is done.
                return (moveID, rowsMoved)
            }
        }
        killPoint.reached("after-delete")
        try await BlockingWork.run { try catalog.finishMove(moveID) }
        return rowsMoved
    }

    /// Finishes or undoes an interrupted move: under the record's exclusive lock on both
    /// shards, deletes its rows on the one the catalog does not put it on, then forgets the
    /// intent.
    func recover(_ intent: MappingStore.MoveIntent, source: PostgresShard, target: PostgresShard) async throws {
        guard let keys = intent.plan.ownerKeys else { return }
        let catalog = self.catalog
        try await source.withConnection { sourceConnection in
            try await source.transaction(on: sourceConnection) {
                try await Self.lock(intent.recordID, on: sourceConnection, logger: source.logger)
                try await target.withConnection { targetConnection in
                    try await target.transaction(on: targetConnection) {
                        try await Self.lock(intent.recordID, on: targetConnection, logger: target.logger)
                        let current = try await catalog.currentShard(ofRecord: intent.recordID)
                        let (shard, connection) =
                            current == target.name ? (source, sourceConnection) : (target, targetConnection)
                        if current == source.name || current == target.name {
                            // A table the copy never reached may be missing on the target.
                            for table in intent.plan.tables
                            where try await Self.exists(table.name, on: connection, logger: shard.logger) {
                                for key in keys {
                                    try await Self.delete(key: key, table: table, on: connection, logger: shard.logger)
                                }
                            }
                        }
                    }
                }
            }
        }
        try await BlockingWork.run { try catalog.finishMove(intent.id) }
    }

    // MARK: Steps

    /// Waits for the record's exclusive lock in the transaction open on `connection`.
    private static func lock(_ record: Int64, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT pg_advisory_xact_lock(\(RecordFence.lockKey(record)))", logger: logger)
    }

    /// Whether `table` exists in the session's current schema on `connection`.
    private static func exists(_ table: String, on connection: PostgresConnection, logger: Logger) async throws -> Bool
    {
        let rows = try await connection.query(
            "SELECT to_regclass(\(table.quotedIdentifier)) IS NOT NULL",
            logger: logger
        )
        for try await found in rows.decode(Bool.self) { return found }
        return false
    }

    /// Inserts each table's rows (a JSON array of row objects) on `target`, in one transaction.
    private static func insert(
        _ copies: [(table: MovePlan.Table, rows: String)],
        into target: PostgresShard
    ) async throws {
        guard !copies.isEmpty else { return }
        try await target.withConnection { connection in
            try await target.transaction(on: connection) {
                for (table, rows) in copies {
                    try await connection.query(
                        PostgresQuery(
                            unsafeSQL: """
                                INSERT INTO \(table.name.quotedIdentifier) OVERRIDING SYSTEM VALUE
                                SELECT * FROM json_populate_recordset(NULL::\(table.name.quotedIdentifier), $1::json)
                                """,
                            binds: PostgresValues.bindings([.text(rows)])
                        ),
                        logger: target.logger
                    )
                }
            }
        }
    }

    /// Deletes the planned keys' rows of every table of `plan` on `shard`, in one transaction.
    private static func deleteRows(of plan: MovePlan, on shard: PostgresShard) async throws {
        guard let keys = plan.ownerKeys else { return }
        try await shard.withConnection { connection in
            try await shard.transaction(on: connection) {
                for table in plan.tables {
                    for key in keys { try await delete(key: key, table: table, on: connection, logger: shard.logger) }
                }
            }
        }
    }

    private static func delete(
        key: String,
        table: MovePlan.Table,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.query(
            PostgresQuery(
                unsafeSQL: "DELETE FROM \(table.name.quotedIdentifier) WHERE \(table.column.quotedIdentifier) = $1",
                binds: PostgresValues.bindings([.text(key)])
            ),
            logger: logger
        )
    }

    /// The rows of `table` whose owning column holds `key`, as a JSON array, and their count;
    /// nil when the key is no value of the column's type (`user:1` for an integer column),
    /// which then holds none of the key's rows.
    private static func rows(
        of key: String,
        in table: MovePlan.Table,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> (String, Int64)? {
        try await connection.query("SAVEPOINT collegedb_owned_rows", logger: logger)
        do {
            let rows = try await connection.query(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT coalesce(json_agg(t), '[]')::text, count(*) FROM \(table.name.quotedIdentifier) t
                        WHERE \(table.column.quotedIdentifier) = $1
                        """,
                    binds: PostgresValues.bindings([.text(key)])
                ),
                logger: logger
            )
            var found: (String, Int64)?
            for try await row in rows.decode((String, Int64).self) { found = row }
            try await connection.query("RELEASE SAVEPOINT collegedb_owned_rows", logger: logger)
            return found
        } catch let error as PSQLError where error.sqlState.map(notOfTheColumnsType.contains) == true {
            try await connection.query("ROLLBACK TO SAVEPOINT collegedb_owned_rows", logger: logger)
            return nil
        }
    }

    /// SQLSTATEs of a value that does not convert to a column's type: invalid text
    /// representation, out of range, bad datetime format or field.
    private static let notOfTheColumnsType: Set<String> = ["22P02", "22003", "22007", "22008"]
}
