import GRDB

/// The shard's part in moving many records at once: finding their rows by key, and reading the
/// key of every row for planning.
extension ShardDatabase {
    /// Calls `body` with every owning-column value of `tables`, as text, from one snapshot of the
    /// shard: each distinct value once per table, or (not `distinct`, cheaper) once per row.
    package func forEachOwnerKey(
        tables: [(table: String, column: String)],
        distinct: Bool,
        _ body: (String) throws -> Void
    ) throws {
        try withPool {
            try $0.read { db in
                for (table, column) in tables {
                    let cursor = try String.fetchCursor(
                        db,
                        sql: """
                            SELECT \(distinct ? "DISTINCT" : "") CAST(\(column.quotedIdentifier) AS TEXT) FROM \(table.quotedIdentifier)
                            WHERE \(column.quotedIdentifier) IS NOT NULL
                            """
                    )
                    while let key = try cursor.next() { try body(key) }
                }
            }
        }
    }

    /// The rowids of the rows of `tables` whose owning value, as text, is one of `texts` (the
    /// plain text of the keys being moved).
    ///
    /// Each table is looked up once with `IN` over the texts, so an index on the owning column
    /// serves. A text that is a canonical integer is also looked up as one, so that columns of
    /// any affinity holding integers match; a row is taken only when its value reads back as one
    /// of the texts.
    func rows(ofKeyTexts texts: Set<String>, tables: [(table: String, column: String)]) throws -> MovePlan {
        let json = JSONArrayText.texts(texts, alsoAsIntegers: true)
        return try withPool {
            try $0.read { db in
                MovePlan(
                    tables: try tables.map { table, column in
                        try Self.refuseWithoutRowID(table, in: db)
                        var rowIDs: [Int64] = []
                        let rows = try Row.fetchCursor(
                            db,
                            sql: """
                                SELECT rowid, CAST(\(column.quotedIdentifier) AS TEXT) FROM \(table.quotedIdentifier)
                                WHERE \(column.quotedIdentifier) IN (SELECT value FROM json_each(?))
                                """,
                            arguments: [json]
                        )
                        while let row = try rows.next() {
                            if let text = (try row.decode(String?.self, atIndex: 1)), texts.contains(text) {
                                rowIDs.append(try row.decode(atIndex: 0))
                            }
                        }
                        return MovePlan.Table(name: table, column: column, sourceRowIDs: rowIDs.sorted())
                    }
                )
            }
        }
    }

    /// Rows of the owning tables here, counted.
    package func ownedRowCount(ownership: [String: String]) throws -> Int64 {
        let tables = try owningTables(only: nil, ownership: ownership)
        return try withPool {
            try $0.read { db in
                try tables.map { table, _ in
                    try Int64.fetchOne(db, sql: "SELECT count(*) FROM \(table.quotedIdentifier)") ?? 0
                }.reduce(0, +)
            }
        }
    }

    static func refuseWithoutRowID(_ table: String, in db: Database) throws {
        let withoutRowID =
            try Bool.fetchOne(
                db,
                sql: "SELECT sql LIKE '%WITHOUT ROWID%' FROM sqlite_master WHERE type = 'table' AND name = ?",
                arguments: [table]
            ) ?? false
        guard !withoutRowID else {
            throw CollegeDBError(.invalidTableName, "table '\(table)' is WITHOUT ROWID and cannot be moved")
        }
    }
}
