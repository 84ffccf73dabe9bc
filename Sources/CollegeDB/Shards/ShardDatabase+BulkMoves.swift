import Foundation
import GRDB

/// The shard's part in moving many records at once: finding their rows with one pass over each
/// owning table, and reading the key of every row for planning.
extension ShardDatabase {
    /// Calls `body` with every distinct owning-column value of `tables`, as text, from one
    /// snapshot of the shard.
    func forEachOwnerKey(tables: [(table: String, column: String)], _ body: (String) throws -> Void) throws {
        try pool.read { db in
            for (table, column) in tables {
                let cursor = try String.fetchCursor(
                    db,
                    sql: """
                        SELECT DISTINCT CAST(\(column.quotedIdentifier) AS TEXT) FROM \(table.quotedIdentifier)
                        WHERE \(column.quotedIdentifier) IS NOT NULL
                        """
                )
                while let key = try cursor.next() { try body(key) }
            }
        }
    }

    /// The rowids of the rows of `tables` whose owning value is one of `keys` (stored forms, as
    /// `codec` makes them, mapped to their record), and how many rows each record has.
    ///
    /// Plain keys are looked up with `IN` lists. Digests cannot be looked up, so each table is
    /// scanned once and each row's owning value digested and matched: one pass per table for
    /// the whole batch, never one lookup per key.
    func rows(
        ofKeys keys: [DatabaseValue: Int64],
        codec: MappingKeyCodec,
        tables: [(table: String, column: String)]
    ) throws -> (plan: MovePlan, rowsByRecord: [Int64: Int]) {
        try pool.read { db in
            var rowsByRecord: [Int64: Int] = [:]
            var planTables: [MovePlan.Table] = []
            for (table, column) in tables {
                try Self.refuseWithoutRowID(table, in: db)
                var rowIDs: [Int64] = []
                func take(_ row: Row) {
                    let text: String? = row[1]
                    guard let text, let record = keys[codec.storedValue(for: text)] else { return }
                    rowIDs.append(row[0])
                    rowsByRecord[record, default: 0] += 1
                }
                let select =
                    "SELECT rowid, CAST(\(column.quotedIdentifier) AS TEXT) FROM \(table.quotedIdentifier)"
                if codec.hashesKeys {
                    let cursor = try Row.fetchCursor(db, sql: select + " WHERE \(column.quotedIdentifier) IS NOT NULL")
                    while let row = try cursor.next() { take(row) }
                } else {
                    let plainKeys = keys.keys.map { $0 }
                    for chunk in stride(from: 0, to: plainKeys.count, by: 500) {
                        let part = Array(plainKeys[chunk..<min(chunk + 500, plainKeys.count)])
                        let cursor = try Row.fetchCursor(
                            db,
                            sql: select
                                + " WHERE \(column.quotedIdentifier) IN (\(Array(repeating: "?", count: part.count).joined(separator: ",")))",
                            arguments: StatementArguments(part)
                        )
                        while let row = try cursor.next() { take(row) }
                    }
                }
                planTables.append(MovePlan.Table(name: table, column: column, sourceRowIDs: rowIDs.sorted()))
            }
            return (MovePlan(tables: planTables), rowsByRecord)
        }
    }

    /// Rows of the owning tables here, counted.
    func ownedRowCount(ownership: [String: String]) throws -> Int64 {
        let tables = try owningTables(only: nil, ownership: ownership)
        return try pool.read { db in
            try tables.map { table, _ in
                try Int64.fetchOne(db, sql: "SELECT count(*) FROM \(table.quotedIdentifier)") ?? 0
            }.reduce(0, +)
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
