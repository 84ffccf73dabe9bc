import GRDB

/// The check of a move's copy, after its commit and before its flip: the rows inserted on the
/// target must be the planned rows of the source.
extension ShardDatabase {
    /// The rows a copy inserted into one table.
    struct CopiedTable {
        /// The planned rows, by their source rowids.
        let table: MovePlan.Table
        /// The columns copied (every one but generated ones), quoted.
        let columns: [String]
        /// The rowids the copy inserted here.
        let rowIDs: [Int64]
    }

    /// Checks that the rows `copied` inserted here are the planned rows of `source`: as many,
    /// and with the same checksum (``CopyChecksum`` over every copied value, `quote`d so that
    /// its type and bytes count, not a collation), in one read of each file. It reads after
    /// the copy committed, so that the check does not hold this shard's writer; the copy's
    /// rows are journaled, so a copy that differs is undone before its flip and nothing is
    /// deleted.
    /// - Throws: `INTERNAL_ERROR` naming the table and the counts.
    func verifyCopy(_ copied: [CopiedTable], from source: ShardDatabase) throws {
        for copy in copied {
            let rowText = copy.columns.map { "quote(\($0))" }.joined(separator: " || ',' || ")
            let read = try source.countAndChecksum(
                of: copy.table.name,
                rowText: rowText,
                rowIDs: copy.table.sourceRowIDs
            )
            let written = try countAndChecksum(of: copy.table.name, rowText: rowText, rowIDs: copy.rowIDs)
            guard copy.rowIDs.count == read.rows, written == read else {
                throw CollegeDBError(
                    .internalError,
                    "the copy of table '\(copy.table.name)' differs from its source (\(copy.rowIDs.count) row(s) "
                        + "copied of \(read.rows) read); the batch is undone and nothing is deleted"
                )
            }
        }
    }

    /// How many of `rowIDs` are rows of `table` here, and their checksum.
    private func countAndChecksum(
        of table: String,
        rowText: String,
        rowIDs: [Int64]
    ) throws -> CopyChecksum.Total {
        try withPool {
            try $0.read { db in
                db.add(function: CopyChecksum.function)
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT count(*), \(CopyChecksum.name)(\(rowText)) FROM \(table.quotedIdentifier)
                        WHERE rowid IN (SELECT value FROM json_each(?))
                        """,
                    arguments: [JSONArrayText.integers(rowIDs)]
                )
                return CopyChecksum.Total(
                    rows: try row?.decode(Int?.self, atIndex: 0) ?? 0,
                    checksum: try row?.decode(Int64?.self, atIndex: 1)
                )
            }
        }
    }
}
