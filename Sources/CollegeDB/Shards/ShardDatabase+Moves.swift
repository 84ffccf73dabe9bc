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

    /// The name the source of a copy is attached under, on this shard's own writer.
    static let copySourceSchema = "collegedb_move_source"

    /// Copies the planned rows of `source` here in one transaction, creating missing tables
    /// (and their indexes) from the source's schema and journaling each copy under `moveID`.
    /// SQLite copies the rows itself: the source file is attached to this shard's writer for the
    /// copy (`INSERT INTO … SELECT`) and detached after it. The transaction is deferred and
    /// writes here first, so it locks only this file for writing (clients keep writing to the
    /// source meanwhile) and never has to upgrade a read snapshot; only this file is written,
    /// so the copy's commit is one file's. The copy is checked before it commits
    /// (``verifyCopy(of:columns:copiedRowIDs:in:)``): one that differs rolls back whole.
    func copyRows(of plan: MovePlan, from source: ShardDatabase, moveID: Int64) throws {
        let schemas = try source.withPool {
            try $0.unsafeRead { db in
                try plan.tables.map { table in
                    try String.fetchAll(
                        db,
                        sql: """
                            SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('table', 'index') AND sql IS NOT NULL
                            ORDER BY type = 'index'
                            """,
                        arguments: [table.name]
                    )
                }
            }
        }
        try source.withOpenFiles { _ in
            try withPool { pool in
                try pool.writeWithoutTransaction { db in
                    try db.execute(
                        sql:
                            "CREATE TABLE IF NOT EXISTS main.\(Self.journalTable) (move_id INTEGER NOT NULL, table_name TEXT NOT NULL, row_id INTEGER NOT NULL)"
                    )
                    let attached = try String.fetchAll(db, sql: "SELECT name FROM pragma_database_list")
                    if attached.contains(Self.copySourceSchema) {
                        try db.execute(sql: "DETACH DATABASE \(Self.copySourceSchema)")
                    }
                    try db.execute(sql: "ATTACH DATABASE ? AS \(Self.copySourceSchema)", arguments: [source.path])
                    defer {
                        // A detach that fails now is done again before the next copy, above.
                        try? db.execute(sql: "DETACH DATABASE \(Self.copySourceSchema)")
                    }
                    try db.inTransaction(.deferred) {
                        try db.execute(sql: "DELETE FROM main.\(Self.journalTable) WHERE 0")
                        try copyAttached(plan, schemas: schemas, moveID: moveID, in: db)
                        return .commit
                    }
                }
            }
        }
    }

    /// The copy itself, inside the target's transaction with the source attached.
    private func copyAttached(_ plan: MovePlan, schemas: [[String]], moveID: Int64, in db: Database) throws {
        try db.execute(sql: "PRAGMA defer_foreign_keys = ON")
        let journal = try db.cachedStatement(
            sql: """
                INSERT INTO main.\(Self.journalTable) (move_id, table_name, row_id)
                SELECT ?, ?, value FROM json_each(?)
                """
        )
        let corrupting = TestCopyCorruption.isOn
        for (table, schema) in zip(plan.tables, schemas) where try !db.tableExists(table.name, in: "main") {
            for statement in schema { try db.execute(sql: statement) }
        }
        for table in plan.tables where !table.sourceRowIDs.isEmpty {
            let quoted = table.name.quotedIdentifier
            // Every column but generated ones, which SQLite computes on the target.
            let names = try String.fetchAll(
                db,
                sql: "SELECT name FROM pragma_table_xinfo(?, '\(Self.copySourceSchema)') WHERE hidden = 0 ORDER BY cid",
                arguments: [table.name]
            ).map(\.quotedIdentifier)
            let columns = names.joined(separator: ", ")
            let sourceRows = JSONArrayText.integers(
                corrupting ? Array(table.sourceRowIDs.dropLast()) : table.sourceRowIDs
            )
            let inserted = try Int64.fetchAll(
                db,
                sql: """
                    INSERT INTO main.\(quoted) (\(columns))
                    SELECT \(columns) FROM \(Self.copySourceSchema).\(quoted) WHERE rowid IN (SELECT value FROM json_each(?))
                    ORDER BY rowid RETURNING rowid
                    """,
                arguments: [sourceRows]
            )
            try journal.execute(arguments: [moveID, table.name, JSONArrayText.integers(inserted)])
            try Self.verifyCopy(of: table, columns: names, copiedRowIDs: inserted, in: db)
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
                guard try db.tableExists(Self.journalTable, in: "main") else { return }
                try db.execute(sql: "PRAGMA defer_foreign_keys = ON")
                let copies = try Row.fetchAll(
                    db,
                    sql: "SELECT table_name, row_id FROM main.\(Self.journalTable) WHERE move_id = ?",
                    arguments: [moveID]
                )
                for copy in copies {
                    try db.execute(
                        sql:
                            "DELETE FROM main.\(try copy.decode(String.self, atIndex: 0).quotedIdentifier) WHERE rowid = ?",
                        arguments: [try copy.decode(Int64.self, atIndex: 1)]
                    )
                }
                try db.execute(sql: "DELETE FROM main.\(Self.journalTable) WHERE move_id = ?", arguments: [moveID])
            }
        }
    }

    /// Forgets the journal of a finished move.
    func clearJournal(moveID: Int64) throws {
        try withPool {
            try $0.write { db in
                guard try db.tableExists(Self.journalTable, in: "main") else { return }
                try db.execute(sql: "DELETE FROM main.\(Self.journalTable) WHERE move_id = ?", arguments: [moveID])
            }
        }
    }
}

extension String {
    /// The string as an SQL identifier in double quotes.
    var quotedIdentifier: String { "\"" + replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
}
