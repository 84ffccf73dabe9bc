import GRDB

/// The check of a move's copy, inside the copy's transaction on the target, with the source
/// attached: the rows inserted must be the planned rows of the source.
extension ShardDatabase {
    /// Checks that the rows inserted into `table` (at `copiedRowIDs`) are the planned rows of
    /// the attached source: as many as the plan's rows still there, and with the same checksum
    /// (``CopyChecksum`` over every copied column, each text value as its bytes in hex and
    /// every other value as `quote()` gives it, so that type and bytes count, not a collation),
    /// in one pass over each side, from the copy's own snapshot. A copy that differs fails,
    /// and its transaction rolls back whole (whatever a trigger on the target wrote too), so
    /// its batch fails before the flip and nothing is deleted.
    /// - Throws: `INTERNAL_ERROR` naming the table and the counts.
    static func verifyCopy(
        of table: MovePlan.Table,
        columns: [String],
        copiedRowIDs: [Int64],
        in db: Database
    ) throws {
        let rowText = columns.map { "CASE typeof(\($0)) WHEN 'text' THEN 'T' || hex(\($0)) ELSE quote(\($0)) END" }
            .joined(separator: " || ',' || ")
        func countAndChecksum(in schema: String, rowIDs: [Int64]) throws -> CopyChecksum.Total {
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT count(*), \(CopyChecksum.name)(\(rowText)) FROM \(schema).\(table.name.quotedIdentifier)
                    WHERE rowid IN (SELECT value FROM json_each(?))
                    """,
                arguments: [JSONArrayText.integers(rowIDs)]
            )
            return CopyChecksum.Total(
                rows: try row?.decode(Int?.self, atIndex: 0) ?? 0,
                checksum: try row?.decode(Int64?.self, atIndex: 1)
            )
        }
        let read = try countAndChecksum(in: copySourceSchema, rowIDs: table.sourceRowIDs)
        let written = try countAndChecksum(in: "main", rowIDs: copiedRowIDs)
        guard copiedRowIDs.count == read.rows, written == read else {
            throw CollegeDBError(
                .internalError,
                "the copy of table '\(table.name)' differs from its source (\(copiedRowIDs.count) row(s) "
                    + "copied of \(read.rows) read); the batch is undone and nothing is deleted"
            )
        }
    }
}
