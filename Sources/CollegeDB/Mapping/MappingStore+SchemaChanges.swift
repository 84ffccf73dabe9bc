import GRDB

/// Schema changes in the SQLite mapping store: `schema_change` (one row per change, in order)
/// and `schema_change_shard` (the shards that have each).
extension MappingStore {
    /// The tables, made by the store's migration `v8`.
    static let schemaChangeTables = """
        CREATE TABLE schema_change (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            sql TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('running', 'paused', 'done', 'failed')),
            canary INTEGER,
            failures TEXT NOT NULL DEFAULT '[]',
            created_at INTEGER NOT NULL,
            attempt INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE schema_change_shard (
            change_id INTEGER NOT NULL REFERENCES schema_change (id),
            shard TEXT NOT NULL,
            applied_at INTEGER NOT NULL,
            PRIMARY KEY (change_id, shard)
        ) WITHOUT ROWID;
        CREATE INDEX schema_change_shard_by_shard ON schema_change_shard (shard, change_id);
        """

    private static let schemaChangeColumns = "id, name, sql, state, canary, failures, created_at, attempt"

    package func recordSchemaChange(name: String, sql: String, canary: Int?) throws -> SchemaChange {
        try guarded {
            try pool.write { db in
                if let row = try Row.fetchOne(
                    db,
                    sql: "SELECT \(Self.schemaChangeColumns) FROM schema_change WHERE name = ?",
                    arguments: [name]
                ) {
                    var change = try Self.schemaChange(row)
                    guard SchemaChangeRules.sameText(change.sql, sql) else { throw SchemaChangeRules.otherSQL(name) }
                    guard change.state != .done else { return change }
                    change.state = .running
                    change.canary = canary
                    change.failures = []
                    change.attempt += 1
                    try db.execute(
                        sql: """
                            UPDATE schema_change SET state = 'running', canary = ?, failures = '[]', attempt = attempt + 1
                            WHERE id = ?
                            """,
                        arguments: [canary, change.id]
                    )
                    return change
                }
                let now = Self.nowMilliseconds()
                try db.execute(
                    sql:
                        "INSERT INTO schema_change (name, sql, state, canary, created_at) VALUES (?, ?, 'running', ?, ?)",
                    arguments: [name, sql, canary, now]
                )
                return SchemaChange(
                    id: db.lastInsertedRowID,
                    name: name,
                    sql: sql,
                    state: .running,
                    canary: canary,
                    failures: [],
                    createdAt: now,
                    attempt: 0
                )
            }
        }
    }

    package func schemaChanges() throws -> [SchemaChange] {
        try guarded {
            try pool.unsafeRead { db in
                try Row.fetchAll(db, sql: "SELECT \(Self.schemaChangeColumns) FROM schema_change ORDER BY id")
                    .map(Self.schemaChange)
            }
        }
    }

    package func setSchemaChangeState(
        _ id: Int64,
        _ state: SchemaChangeState,
        failures: [SchemaChangeFailure],
        ifAttempt attempt: Int64
    ) throws -> Bool {
        try guarded {
            try pool.write { db in
                try db.execute(
                    sql: "UPDATE schema_change SET state = ?, failures = ? WHERE id = ? AND attempt = ?",
                    arguments: [state.rawValue, SchemaChangeFailure.encoded(failures), id, attempt]
                )
                return db.changesCount > 0
            }
        }
    }

    package func shards(withSchemaChange id: Int64) throws -> Set<String> {
        try guarded {
            try pool.unsafeRead { db in
                Set(
                    try String.fetchAll(
                        db,
                        sql: "SELECT shard FROM schema_change_shard WHERE change_id = ?",
                        arguments: [id]
                    )
                )
            }
        }
    }

    package func schemaChanges(appliedOn shard: String) throws -> Set<Int64> {
        try guarded {
            try pool.unsafeRead { db in
                Set(
                    try Int64.fetchAll(
                        db,
                        sql: "SELECT change_id FROM schema_change_shard WHERE shard = ?",
                        arguments: [shard]
                    )
                )
            }
        }
    }

    package func markSchemaChangeApplied(_ id: Int64, shard: String) throws {
        try guarded {
            try pool.write { db in
                try db.execute(
                    sql: "INSERT OR IGNORE INTO schema_change_shard (change_id, shard, applied_at) VALUES (?, ?, ?)",
                    arguments: [id, shard, Self.nowMilliseconds()]
                )
            }
        }
    }

    private static func schemaChange(_ row: Row) throws -> SchemaChange {
        let state: String = try row.decode(atIndex: 3)
        return SchemaChange(
            id: try row.decode(atIndex: 0),
            name: try row.decode(atIndex: 1),
            sql: try row.decode(atIndex: 2),
            state: try SchemaChangeRules.state(state),
            canary: try row.decode(atIndex: 4),
            failures: try SchemaChangeFailure.decoded(try row.decode(atIndex: 5)),
            createdAt: try row.decode(atIndex: 6),
            attempt: try row.decode(atIndex: 7)
        )
    }
}
