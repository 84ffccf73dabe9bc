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

    /// Moves the rows `key` owns (in `table` only, if given) and then the record's mapping;
    /// returns how many rows moved.
    func move(
        key: String,
        recordID: Int64,
        from source: PostgresShard,
        to target: PostgresShard,
        table: String?
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
                        "key '\(key)' is no longer on shard '\(source.name)' (another daemon moved or removed it)"
                    )
                }
                let tables = try await Self.owningTables(
                    on: connection,
                    of: source,
                    only: table,
                    ownership: ownership
                )
                var copies: [(table: MovePlan.Table, rows: String, count: Int)] = []
                for (table, column) in tables {
                    let owned = MovePlan.Table(name: table, column: column, sourceRowIDs: [])
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
                let plan = MovePlan(tables: copies.map(\.table), ownerKey: key)
                let moveID = try await BlockingWork.run {
                    try catalog.beginMove(recordID: recordID, from: source.name, to: target.name, plan: plan)
                }
                killPoint.reached("after-intent")
                do {
                    try await Self.insert(copies.map { ($0.table, $0.rows) }, into: target)
                } catch {
                    try? await BlockingWork.run { try catalog.finishMove(moveID) }
                    throw error
                }
                killPoint.reached("after-copy")
                do {
                    try await BlockingWork.run { try catalog.flipMove(moveID, recordID: recordID, to: target.name) }
                } catch {
                    try? await Self.deleteRows(of: plan, on: target)
                    try? await BlockingWork.run { try catalog.finishMove(moveID) }
                    throw error
                }
                killPoint.reached("after-flip")
                for table in plan.tables {
                    try await Self.delete(key: key, table: table, on: connection, logger: source.logger)
                }
                // The commit that follows releases the lock; the intent goes once it is done.
                return (moveID, copies.map(\.count).reduce(0, +))
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
        guard let key = intent.plan.ownerKey else { return }
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
                            for table in intent.plan.tables {
                                try await Self.delete(key: key, table: table, on: connection, logger: shard.logger)
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

    /// Which tables own a key's rows: `only` (checked to exist), else every table of
    /// `ownership` here, plus every table whose primary key is a single `id` column; tables of
    /// the session's current schema, none named `_collegedb…`.
    private static func owningTables(
        on connection: PostgresConnection,
        of shard: PostgresShard,
        only: String?,
        ownership: [String: String]
    ) async throws -> [(table: String, column: String)] {
        var tables: [(name: String, primaryKey: String?)] = []
        let rows = try await connection.query(
            """
            SELECT c.relname::text, (
                SELECT a.attname::text FROM pg_index i
                JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                WHERE i.indrelid = c.oid AND i.indisprimary AND i.indnatts = 1)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname NOT LIKE '\\_collegedb%'
            ORDER BY 1
            """,
            logger: shard.logger
        )
        for try await (name, primaryKey) in rows.decode((String, String?).self) { tables.append((name, primaryKey)) }
        func owner(_ table: (name: String, primaryKey: String?)) -> (table: String, column: String)? {
            if let column = ownership[table.name] { return (table.name, column) }
            return table.primaryKey?.lowercased() == "id" ? (table.name, table.primaryKey!) : nil
        }
        guard let only else { return tables.compactMap(owner) }
        guard let table = tables.first(where: { $0.name == only }) else {
            throw CollegeDBError(.invalidTableName, "shard '\(shard.name)' has no table '\(only)'")
        }
        guard let owned = owner(table) else {
            throw CollegeDBError(
                .invalidTableName,
                "table '\(only)' has no owning column configured (--owner \(only)=COLUMN) and its primary key is not id"
            )
        }
        return [owned]
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

    /// Deletes the planned key's rows of every table of `plan` on `shard`, in one transaction.
    private static func deleteRows(of plan: MovePlan, on shard: PostgresShard) async throws {
        guard let key = plan.ownerKey else { return }
        try await shard.withConnection { connection in
            try await shard.transaction(on: connection) {
                for table in plan.tables {
                    try await delete(key: key, table: table, on: connection, logger: shard.logger)
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
