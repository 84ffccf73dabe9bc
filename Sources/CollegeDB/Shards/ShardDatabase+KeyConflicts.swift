import GRDB

/// What a dry run asks of a SQLite shard to find rows whose primary key is taken on the target.
extension ShardDatabase {
    package func primaryKeys(
        ofKeyTexts texts: Set<String>,
        table: String,
        column: String
    ) throws -> (column: String, keys: String)? {
        let candidates = JSONArrayText.texts(texts, alsoAsIntegers: true)
        let exact = JSONArrayText.texts(texts)
        return try withPool {
            try $0.read { db in
                let keyColumns = try String.fetchAll(
                    db,
                    sql: "SELECT name FROM pragma_table_info(?) WHERE pk > 0",
                    arguments: [table]
                )
                guard keyColumns.count == 1, let keyColumn = keyColumns.first else { return nil }
                let keys = try String.fetchOne(
                    db,
                    sql: """
                        SELECT json_group_array(\(keyColumn.quotedIdentifier)) FROM \(table.quotedIdentifier)
                        WHERE \(column.quotedIdentifier) IN (SELECT value FROM json_each(?1))
                        AND CAST(\(column.quotedIdentifier) AS TEXT) IN (SELECT value FROM json_each(?2))
                        """,
                    arguments: [candidates, exact]
                )
                return (keyColumn, keys ?? "[]")
            }
        }
    }

    package func existingPrimaryKeys(_ keys: String, table: String, keyColumn: String) throws -> Int {
        try withPool {
            try $0.read { db in
                guard try db.tableExists(table) else { return 0 }
                return try Int.fetchOne(
                    db,
                    sql: """
                        SELECT count(*) FROM \(table.quotedIdentifier)
                        WHERE \(keyColumn.quotedIdentifier) IN (SELECT value FROM json_each(?))
                        """,
                    arguments: [keys]
                ) ?? 0
            }
        }
    }
}
