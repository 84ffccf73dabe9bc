import PostgresNIO
import Synchronization

/// A PostgreSQL shard's owning tables, read for moves and rebalancing: the tables of the
/// session's current schema (none named `_collegedb…`) whose rows belong to a key.
extension PostgresShard {
    /// Which tables own a key's rows: `only` (checked to exist), else every table of
    /// `ownership` here, plus every table whose primary key is a single `id` column.
    func owningTables(
        on connection: PostgresConnection,
        only: String?,
        ownership: [String: String]
    ) async throws -> [(table: String, column: String)] {
        var tables: [(name: String, primaryKey: String?)] = []
        let rows = try await connection.queryWhileOpen(
            """
            SELECT c.relname::text, (
                SELECT a.attname::text FROM pg_index i
                JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                WHERE i.indrelid = c.oid AND i.indisprimary AND i.indnatts = 1)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname NOT LIKE '\\_collegedb%'
            ORDER BY 1
            """,
            logger: logger
        )
        for (name, primaryKey) in try rows.decode((String, String?).self) { tables.append((name, primaryKey)) }
        func owner(_ table: (name: String, primaryKey: String?)) -> (table: String, column: String)? {
            if let column = ownership[table.name] { return (table.name, column) }
            return table.primaryKey?.lowercased() == "id" ? (table.name, table.primaryKey!) : nil
        }
        guard let only else { return tables.compactMap(owner) }
        guard let table = tables.first(where: { $0.name == only }) else {
            throw CollegeDBError(.invalidTableName, "shard '\(name)' has no table '\(only)'")
        }
        guard let owned = owner(table) else {
            throw CollegeDBError(
                .invalidTableName,
                "table '\(only)' has no owning column configured (--owner \(only)=COLUMN) and its primary key is not id"
            )
        }
        return [owned]
    }

    /// Calls `body` with each owning-column value of `tables`, as text, on `connection` (inside
    /// its transaction, if one is open); a table's values are read into memory before `body`
    /// sees them.
    func forEachOwnerKey(
        on connection: PostgresConnection,
        tables: [(table: String, column: String)],
        distinct: Bool,
        _ body: (String) throws -> Void
    ) async throws {
        for (table, column) in tables {
            // Decoded as they arrive: a table's raw rows are never all held.
            let keys = Mutex<[String]>([])
            _ = try await connection.queryWhileOpen(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT \(distinct ? "DISTINCT" : "") \(column.quotedIdentifier)::text FROM \(table.quotedIdentifier)
                        WHERE \(column.quotedIdentifier) IS NOT NULL
                        """
                ),
                logger: logger
            ) { row in
                let key = try row.decode(String.self)
                keys.withLock { $0.append(key) }
            }
            for key in keys.withLock({ $0 }) { try body(key) }
        }
    }

    package func owningTables(ownership: [String: String]) throws -> [(table: String, column: String)] {
        try blocking { connection in try await self.owningTables(on: connection, only: nil, ownership: ownership) }
    }

    package func forEachOwnerKey(
        tables: [(table: String, column: String)],
        distinct: Bool,
        _ body: (String) throws -> Void
    ) throws {
        for table in tables {
            let keys = try blocking { connection in
                var keys: [String] = []
                try await self.forEachOwnerKey(on: connection, tables: [table], distinct: distinct) { keys.append($0) }
                return keys
            }
            for key in keys { try body(key) }
        }
    }

    package func ownedRowCount(ownership: [String: String]) throws -> Int64 {
        try blocking { connection in
            var total: Int64 = 0
            for (table, _) in try await self.owningTables(on: connection, only: nil, ownership: ownership) {
                let rows = try await connection.queryWhileOpen(
                    PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table.quotedIdentifier)"),
                    logger: self.logger
                )
                for count in try rows.decode(Int64.self) { total += count }
            }
            return total
        }
    }

    package func ownedRowCount(ofKeyTexts texts: Set<String>, tables: [(table: String, column: String)]) throws -> Int {
        let keys = Array(texts)
        return try blocking { connection in
            var total: Int64 = 0
            for (table, column) in tables {
                var binds = PostgresBindings()
                binds.append(keys)
                let rows = try await connection.queryWhileOpen(
                    PostgresQuery(
                        unsafeSQL: """
                            SELECT count(*) FROM \(table.quotedIdentifier) WHERE \(column.quotedIdentifier)::text = ANY($1)
                            """,
                        binds: binds
                    ),
                    logger: self.logger
                )
                for count in try rows.decode(Int64.self) { total += count }
            }
            return Int(total)
        }
    }

    package func primaryKeys(
        ofKeyTexts texts: Set<String>,
        table: String,
        column: String
    ) throws -> (column: String, keys: String)? {
        let keys = Array(texts)
        return try blocking { connection in
            guard let keyColumn = try await self.primaryKeyColumn(of: table, on: connection) else { return nil }
            var binds = PostgresBindings()
            binds.append(keys)
            let rows = try await connection.queryWhileOpen(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT coalesce(json_agg(\(keyColumn.quotedIdentifier)), '[]')::text FROM \(table.quotedIdentifier)
                        WHERE \(column.quotedIdentifier)::text = ANY($1)
                        """,
                    binds: binds
                ),
                logger: self.logger
            )
            if let json = try rows.first(String.self) { return (keyColumn, json) }
            return (keyColumn, "[]")
        }
    }

    package func existingPrimaryKeys(_ keys: String, table: String, keyColumn: String) throws -> Int {
        try blocking { connection in
            guard try await self.primaryKeyColumn(of: table, on: connection) != nil else { return 0 }
            var binds = PostgresBindings()
            binds.append(keys)
            let rows = try await connection.queryWhileOpen(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT count(*) FROM \(table.quotedIdentifier)
                        WHERE \(keyColumn.quotedIdentifier)::text IN (SELECT json_array_elements_text($1::json))
                        """,
                    binds: binds
                ),
                logger: self.logger
            )
            if let count = try rows.first(Int64.self) { return Int(count) }
            return 0
        }
    }

    /// The single column of `table`'s primary key in the current schema; nil when the table is
    /// missing or its key is not one column.
    private func primaryKeyColumn(of table: String, on connection: PostgresConnection) async throws -> String? {
        let rows = try await connection.queryWhileOpen(
            """
            SELECT a.attname::text FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary AND i.indnatts = 1
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
            WHERE n.nspname = current_schema() AND c.relname = \(table)
            """,
            logger: logger
        )
        if let column = try rows.first(String.self) { return column }
        return nil
    }

    /// None: PostgreSQL does not count a database's commits for its clients.
    package var commitCount: Int? { nil }

    /// Runs `body` on a pooled connection and waits for it (a blocking-work thread's call).
    private func blocking<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) throws -> T {
        try AsyncBridge.wait {
            try await self.translatingFailures { try await self.withConnection(body) }
        }
    }
}
