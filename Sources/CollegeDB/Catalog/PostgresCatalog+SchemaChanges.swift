import PostgresNIO

/// Schema changes in the shared catalog: `collegedb.schema_change` and
/// `collegedb.schema_change_shard`. Daemons recording changes at once take turns
/// (``schemaChangeLock``), so that a name is recorded once.
extension PostgresCatalog {
    /// The advisory lock of recording a schema change.
    static let schemaChangeLock: Int64 = 0x636f_6c6c_7363_6863  // "collschc"

    private typealias SchemaChangeColumns = (Int64, String, String, String, Int64?, String, Int64, Int64)

    package func recordSchemaChange(name: String, sql: String, canary: Int?) throws -> SchemaChange {
        let canaryValue = canary.map(Int64.init)
        let now = MappingStore.nowMilliseconds()
        let row: SchemaChangeColumns = try run { connection in
            try await self.transaction(on: connection) {
                try await connection.queryWhileOpen(
                    "SELECT pg_advisory_xact_lock(\(Self.schemaChangeLock))",
                    logger: self.logger
                )
                let existing = try await connection.queryWhileOpen(
                    """
                    SELECT id, name, sql, state, canary, failures, created_at, attempt
                    FROM collegedb.schema_change WHERE name = \(name)
                    """,
                    logger: self.logger
                )
                for found in try existing.decode(SchemaChangeColumns.self) {
                    guard SchemaChangeRules.sameText(found.2, sql) else { throw SchemaChangeRules.otherSQL(name) }
                    guard found.3 != SchemaChangeState.done.rawValue else { return found }
                    try await connection.queryWhileOpen(
                        """
                        UPDATE collegedb.schema_change
                        SET state = 'running', canary = \(canaryValue), failures = '[]', attempt = attempt + 1
                        WHERE id = \(found.0)
                        """,
                        logger: self.logger
                    )
                    let running = SchemaChangeState.running.rawValue
                    return (found.0, found.1, found.2, running, canaryValue, "[]", found.6, found.7 + 1)
                }
                let inserted = try await connection.queryWhileOpen(
                    """
                    INSERT INTO collegedb.schema_change (name, sql, state, canary, created_at)
                    VALUES (\(name), \(sql), 'running', \(canaryValue), \(now))
                    RETURNING id, name, sql, state, canary, failures, created_at, attempt
                    """,
                    logger: self.logger
                )
                if let row = try inserted.first(SchemaChangeColumns.self) { return row }
                throw CollegeDBError(.mappingStoreFailed, "the catalog recorded schema change '\(name)' without a row")
            }
        }
        return try Self.schemaChange(row)
    }

    package func schemaChanges() throws -> [SchemaChange] {
        let rows: [SchemaChangeColumns] = try run { connection in
            var found: [SchemaChangeColumns] = []
            let rows = try await connection.queryWhileOpen(
                """
                SELECT id, name, sql, state, canary, failures, created_at, attempt
                FROM collegedb.schema_change ORDER BY id
                """,
                logger: self.logger
            )
            for row in try rows.decode(SchemaChangeColumns.self) { found.append(row) }
            return found
        }
        return try rows.map(Self.schemaChange)
    }

    package func setSchemaChangeState(
        _ id: Int64,
        _ state: SchemaChangeState,
        failures: [SchemaChangeFailure],
        ifAttempt attempt: Int64
    ) throws -> Bool {
        let failures = SchemaChangeFailure.encoded(failures)
        return try run { connection in
            let rows = try await connection.queryWhileOpen(
                """
                UPDATE collegedb.schema_change SET state = \(state.rawValue), failures = \(failures)
                WHERE id = \(id) AND attempt = \(attempt) RETURNING id
                """,
                logger: self.logger
            )
            return !rows.isEmpty
        }
    }

    package func shards(withSchemaChange id: Int64) throws -> Set<String> {
        try run { connection in
            var shards: Set<String> = []
            let rows = try await connection.queryWhileOpen(
                "SELECT shard FROM collegedb.schema_change_shard WHERE change_id = \(id)",
                logger: self.logger
            )
            for shard in try rows.decode(String.self) { shards.insert(shard) }
            return shards
        }
    }

    package func schemaChanges(appliedOn shard: String) throws -> Set<Int64> {
        try run { connection in
            var changes: Set<Int64> = []
            let rows = try await connection.queryWhileOpen(
                "SELECT change_id FROM collegedb.schema_change_shard WHERE shard = \(shard)",
                logger: self.logger
            )
            for change in try rows.decode(Int64.self) { changes.insert(change) }
            return changes
        }
    }

    package func markSchemaChangeApplied(_ id: Int64, shard: String) throws {
        let now = MappingStore.nowMilliseconds()
        try run { connection in
            try await connection.queryWhileOpen(
                """
                INSERT INTO collegedb.schema_change_shard (change_id, shard, applied_at)
                VALUES (\(id), \(shard), \(now)) ON CONFLICT DO NOTHING
                """,
                logger: self.logger
            )
        }
    }

    private static func schemaChange(_ row: SchemaChangeColumns) throws -> SchemaChange {
        SchemaChange(
            id: row.0,
            name: row.1,
            sql: row.2,
            state: try SchemaChangeRules.state(row.3),
            canary: try row.4.map { canary in
                guard let value = Int(exactly: canary) else {
                    throw CollegeDBError(.mappingStoreFailed, "a schema change's canary in the catalog is out of range")
                }
                return value
            },
            failures: try SchemaChangeFailure.decoded(row.5),
            createdAt: row.6,
            attempt: row.7
        )
    }
}
