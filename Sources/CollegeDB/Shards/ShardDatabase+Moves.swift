import Foundation
import GRDB

/// The shard's part in moving a record's rows. Copies on the target are journaled in
/// `_collegedb_move_journal` in the same transaction, so an interrupted move can be undone
/// exactly, by rowid.
extension ShardDatabase {
    static let journalTable = "_collegedb_move_journal"

    /// Which tables own a key's rows: `only` (checked to exist), else every table of
    /// `ownership` present here, plus every table whose primary key is a single `id` column.
    func owningTables(only: String?, ownership: [String: String]) throws -> [(table: String, column: String)] {
        try withPool {
            try $0.unsafeRead { db in
                let tables = try String.fetchAll(
                    db,
                    sql: """
                        SELECT name FROM sqlite_master WHERE type = 'table'
                        AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_collegedb\\_%' ESCAPE '\\'
                        ORDER BY name
                        """
                )
                func primaryKeyIsID(_ table: String) throws -> Bool {
                    let keyColumns = try Row.fetchAll(
                        db,
                        sql: "SELECT name FROM pragma_table_info(?) WHERE pk > 0",
                        arguments: [table]
                    )
                    guard keyColumns.count == 1, let column = keyColumns.first else { return false }
                    return try column.decode(String.self, atIndex: 0).lowercased() == "id"
                }
                if let only {
                    guard tables.contains(only) else {
                        throw CollegeDBError(.invalidTableName, "shard '\(name)' has no table '\(only)'")
                    }
                    if let column = ownership[only] { return [(only, column)] }
                    guard try primaryKeyIsID(only) else {
                        throw CollegeDBError(
                            .invalidTableName,
                            "table '\(only)' has no owning column configured (--owner \(only)=COLUMN) and its primary key is not id"
                        )
                    }
                    return [(only, "id")]
                }
                return try tables.compactMap { table in
                    if let column = ownership[table] { return (table, column) }
                    return try primaryKeyIsID(table) ? (table, "id") : nil
                }
            }
        }
    }

    /// The rowids of `key`'s rows in each owning table.
    func plan(for key: String, tables: [(table: String, column: String)]) throws -> MovePlan {
        try withPool {
            try $0.unsafeRead { db in
                MovePlan(
                    tables: try tables.map { table, column in
                        try Self.refuseWithoutRowID(table, in: db)
                        let rowIDs = try Int64.fetchAll(
                            db,
                            sql:
                                "SELECT rowid FROM \(table.quotedIdentifier) WHERE \(column.quotedIdentifier) = ? ORDER BY rowid",
                            arguments: [key]
                        )
                        return MovePlan.Table(name: table, column: column, sourceRowIDs: rowIDs)
                    }
                )
            }
        }
    }

    /// Copies the planned rows of `source` here in one transaction, creating missing tables
    /// (and their indexes) from the source's schema and journaling each copy under `moveID`.
    /// The rows are read through the source's own connections and written through this
    /// shard's. (Copying through an ATTACHed source was faster, but a drain under heavy load
    /// then answered a client's INSERT with a UNIQUE error on its own row; see the README.)
    func copyRows(of plan: MovePlan, from source: ShardDatabase, moveID: Int64) throws {
        let tables = try source.withPool {
            try $0.unsafeRead { db in
                try plan.tables.map { table in
                    let schema = try String.fetchAll(
                        db,
                        sql: """
                            SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('table', 'index') AND sql IS NOT NULL
                            ORDER BY type = 'index'
                            """,
                        arguments: [table.name]
                    )
                    let rows = try Row.fetchAll(
                        db,
                        sql:
                            "SELECT * FROM \(table.name.quotedIdentifier) WHERE rowid IN (\(table.sourceRowIDs.map(String.init).joined(separator: ",")))"
                    )
                    return (table.name, schema, rows)
                }
            }
        }
        try withPool {
            try $0.write { db in
                try db.execute(sql: "PRAGMA defer_foreign_keys = ON")
                try db.execute(
                    sql:
                        "CREATE TABLE IF NOT EXISTS \(Self.journalTable) (move_id INTEGER NOT NULL, table_name TEXT NOT NULL, row_id INTEGER NOT NULL)"
                )
                for (table, schema, _) in tables where try !db.tableExists(table) {
                    for statement in schema { try db.execute(sql: statement) }
                }
                let journal = try db.cachedStatement(
                    sql: "INSERT INTO \(Self.journalTable) (move_id, table_name, row_id) VALUES (?, ?, ?)"
                )
                let corrupting = TestCopyCorruption.isOn
                for (table, _, rows) in tables {
                    guard let columns = rows.first.map({ Array($0.columnNames) }) else { continue }
                    let insert = try db.makeStatement(
                        sql:
                            "INSERT INTO \(table.quotedIdentifier) (\(columns.map(\.quotedIdentifier).joined(separator: ", "))) VALUES (\(Array(repeating: "?", count: columns.count).joined(separator: ", ")))"
                    )
                    var inserted: [Int64] = []
                    for row in corrupting ? rows.dropLast() : rows[...] {
                        try insert.execute(arguments: StatementArguments(row.databaseValues))
                        inserted.append(db.lastInsertedRowID)
                        try journal.execute(arguments: [moveID, table, db.lastInsertedRowID])
                    }
                    try Self.verifyCopy(of: rows, into: table, columns: columns, rowIDs: inserted, in: db)
                }
            }
        }
    }

    /// Checks, inside the copy's transaction, that the rows inserted into `table` (at `rowIDs`)
    /// are exactly the rows read from the source: as many, and the same values, compared as a
    /// multiset. A copy that differs fails its batch before the flip, so nothing is deleted.
    /// - Throws: `INTERNAL_ERROR` naming the table and the counts.
    static func verifyCopy(
        of expected: [Row],
        into table: String,
        columns: [String],
        rowIDs: [Int64],
        in db: Database
    ) throws {
        var counts: [[DatabaseValue]: Int] = [:]
        for row in expected { counts[Array(row.databaseValues), default: 0] += 1 }
        let copied = try Row.fetchAll(
            db,
            sql: """
                SELECT \(columns.map(\.quotedIdentifier).joined(separator: ", ")) FROM \(table.quotedIdentifier)
                WHERE rowid IN (SELECT value FROM json_each(?))
                """,
            arguments: [String(decoding: try JSONEncoder().encode(rowIDs), as: UTF8.self)]
        )
        for row in copied { counts[Array(row.databaseValues), default: 0] -= 1 }
        guard copied.count == expected.count, counts.values.allSatisfy({ $0 == 0 }) else {
            throw CollegeDBError(
                .internalError,
                "the copy of table '\(table)' differs from its source (\(copied.count) row(s) copied of "
                    + "\(expected.count) read); the batch is undone and nothing is deleted"
            )
        }
    }

    /// Deletes the planned rows here in one transaction (a no-op for rows already gone).
    func deleteRows(of plan: MovePlan) throws {
        try withPool {
            try $0.write { db in
                try db.execute(sql: "PRAGMA defer_foreign_keys = ON")
                for table in plan.tables where !table.sourceRowIDs.isEmpty {
                    try db.execute(
                        sql:
                            "DELETE FROM \(table.name.quotedIdentifier) WHERE rowid IN (\(table.sourceRowIDs.map(String.init).joined(separator: ",")))"
                    )
                }
            }
        }
    }

    /// Deletes what move `moveID` copied here, by its journal, in one transaction.
    func undoCopy(moveID: Int64) throws {
        try withPool {
            try $0.write { db in
                guard try db.tableExists(Self.journalTable) else { return }
                try db.execute(sql: "PRAGMA defer_foreign_keys = ON")
                let copies = try Row.fetchAll(
                    db,
                    sql: "SELECT table_name, row_id FROM \(Self.journalTable) WHERE move_id = ?",
                    arguments: [moveID]
                )
                for copy in copies {
                    try db.execute(
                        sql: "DELETE FROM \(try copy.decode(String.self, atIndex: 0).quotedIdentifier) WHERE rowid = ?",
                        arguments: [try copy.decode(Int64.self, atIndex: 1)]
                    )
                }
                try db.execute(sql: "DELETE FROM \(Self.journalTable) WHERE move_id = ?", arguments: [moveID])
            }
        }
    }

    /// Forgets the journal of a finished move.
    func clearJournal(moveID: Int64) throws {
        try withPool {
            try $0.write { db in
                guard try db.tableExists(Self.journalTable) else { return }
                try db.execute(sql: "DELETE FROM \(Self.journalTable) WHERE move_id = ?", arguments: [moveID])
            }
        }
    }
}

extension String {
    /// The string as an SQL identifier in double quotes.
    var quotedIdentifier: String { "\"" + replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
}
