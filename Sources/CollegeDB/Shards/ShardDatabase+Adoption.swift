import Foundation
import GRDB

/// The shard's part in adopting an existing database: its tables, whether each can be sharded
/// and why not, and its keys in order. Only reads: adoption never writes into the file.
extension ShardDatabase: AdoptableShard {
    package var adoptable: (any AdoptableShard)? { self }

    /// The user's tables, by name (SQLite's and the daemon's own left out).
    package func userTables() throws -> [String] {
        try withPool {
            try $0.unsafeRead { db in
                try String.fetchAll(
                    db,
                    sql: """
                        SELECT name FROM sqlite_master WHERE type = 'table'
                        AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_collegedb\\_%' ESCAPE '\\'
                        ORDER BY name
                        """
                )
            }
        }
    }

    /// Whether `table` can be sharded by key, and why not. The key column is `keyColumn` when
    /// given, else the table's `ownership` column, else its primary key when that is one column
    /// named `id` (or `defaultKey`).
    package func validate(
        table: String,
        keyColumn: String?,
        ownership: [String: String],
        defaultKey: String = "id"
    ) throws -> TableValidation {
        let tables = try userTables()
        guard tables.contains(table) else {
            return TableValidation(
                table: table,
                keyColumn: nil,
                isValid: false,
                issues: ["no table '\(table)' in shard '\(name)' (tables: \(tables.joined(separator: ", ")))"],
                rowCount: nil
            )
        }
        return try withPool {
            try $0.unsafeRead { db in
                let columns = try Row.fetchAll(
                    db,
                    sql: "SELECT name, pk FROM pragma_table_info(?) ORDER BY cid",
                    arguments: [table]
                )
                let described = try columns.map { column in
                    (
                        name: try column.decode(String.self, forColumn: "name"),
                        key: try column.decode(Int.self, forColumn: "pk")
                    )
                }
                let names = described.map(\.name)
                let primaryKey = described.filter { $0.key > 0 }.sorted { $0.key < $1.key }.map(\.name)
                let rowCount = try Int64.fetchOne(db, sql: "SELECT count(*) FROM \(table.quotedIdentifier)") ?? 0
                var result = TableValidation(
                    table: table,
                    keyColumn: nil,
                    isValid: false,
                    issues: [],
                    rowCount: rowCount
                )
                let chosen = keyColumn ?? ownership[table]
                if let chosen {
                    guard let match = names.first(where: { $0.lowercased() == chosen.lowercased() }) else {
                        result.issues.append(
                            "no column '\(chosen)' in '\(table)' (columns: \(names.joined(separator: ", "))); name one that holds each row's key"
                        )
                        return result
                    }
                    result.keyColumn = match
                } else if primaryKey.count > 1 {
                    result.issues.append(
                        "composite primary key (\(primaryKey.joined(separator: ", "))): name the column that holds each row's key with --owner \(table)=COLUMN (or primaryKeyColumn)"
                    )
                    return result
                } else if let only = primaryKey.first, only.lowercased() == defaultKey.lowercased() {
                    result.keyColumn = only
                } else {
                    let found =
                        primaryKey.first.map { "its primary key is '\($0)', not \(defaultKey)" }
                        ?? "it has no primary key"
                    result.issues.append(
                        "\(found): name the column that holds each row's key with --owner \(table)=COLUMN (or primaryKeyColumn)"
                    )
                    return result
                }
                guard rowCount > 0 else {
                    result.issues.append("empty: nothing to map; rows written later follow their keys' mappings")
                    return result
                }
                result.isValid = true
                if try Bool.fetchOne(
                    db,
                    sql: "SELECT sql LIKE '%WITHOUT ROWID%' FROM sqlite_master WHERE type = 'table' AND name = ?",
                    arguments: [table]
                ) == true {
                    result.issues.append(
                        "WITHOUT ROWID: its keys are mapped, but reassignShard and rebalancing cannot move its rows; rebuild it as a rowid table to move them"
                    )
                }
                return result
            }
        }
    }

    /// Whether any owned table holds a row.
    package func hasOwnedRows(ownership: [String: String]) throws -> Bool {
        // A file never written (missing or empty) holds no rows, and is not opened to see.
        guard isOpen || (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0 > 0
        else { return false }
        return try userTables().contains { table in
            // A table that cannot even be validated is not an owned table.
            (try? validate(table: table, keyColumn: nil, ownership: ownership).isValid) == true
        }
    }

    /// Calls `body` with each distinct key of `table` after `cursor` (nil: from the first), in
    /// the column's order, as text and as stored, from one snapshot; stops when it returns false.
    package func forEachKey(
        of table: AdoptedTable,
        after cursor: DatabaseValue?,
        _ body: (_ text: String, _ value: DatabaseValue) throws -> Bool
    ) throws {
        let column = table.column.quotedIdentifier
        try withPool {
            try $0.read { db in
                let keys = try Row.fetchCursor(
                    db,
                    sql: """
                        SELECT DISTINCT \(column), CAST(\(column) AS TEXT) FROM \(table.table.quotedIdentifier)
                        WHERE \(column) IS NOT NULL \(cursor == nil ? "" : "AND \(column) > ?") ORDER BY \(column)
                        """,
                    arguments: cursor.map { [$0] } ?? []
                )
                while let row = try keys.next() {
                    guard try body(try row.decode(atIndex: 1), try row.decode(atIndex: 0)) else { return }
                }
            }
        }
    }
}
