/// What planning and running a rebalance read of a shard's owning tables (tables whose rows
/// belong to a key: by `--owner`, or a single-column primary key named `id`), the same way on
/// SQLite and PostgreSQL shards. Every method blocks its caller.
package protocol OwnedRowsScanning: AnyObject, Sendable {
    /// The owning tables here, each with its owning column.
    func owningTables(ownership: [String: String]) throws -> [(table: String, column: String)]
    /// Calls `body` with every owning-column value of `tables`, as text: each distinct value
    /// once per table, or (not `distinct`, cheaper) once per row.
    func forEachOwnerKey(
        tables: [(table: String, column: String)],
        distinct: Bool,
        _ body: (String) throws -> Void
    ) throws
    /// Rows of the owning tables here, counted.
    func ownedRowCount(ownership: [String: String]) throws -> Int64
    /// How many rows of `tables` belong to the keys `texts`.
    func ownedRowCount(ofKeyTexts texts: Set<String>, tables: [(table: String, column: String)]) throws -> Int
    /// The primary keys, as a JSON array, of the rows of `table` whose owning `column` holds one
    /// of `texts`, with the key's column; nil when the table's primary key is not one column.
    func primaryKeys(
        ofKeyTexts texts: Set<String>,
        table: String,
        column: String
    ) throws -> (column: String, keys: String)?
    /// How many of `keys` (a JSON array) are already primary keys (column `keyColumn`) of
    /// `table` here; 0 when there is no such table.
    func existingPrimaryKeys(_ keys: String, table: String, keyColumn: String) throws -> Int
    /// A count that grows with every commit on the shard, to tell that a scan is still what the
    /// shard holds; nil when the backend cannot tell (then no scan vouches for keys it did not
    /// find).
    var commitCount: Int? { get }
}

extension ShardDatabase {
    package func owningTables(ownership: [String: String]) throws -> [(table: String, column: String)] {
        try owningTables(only: nil, ownership: ownership)
    }

    package func ownedRowCount(ofKeyTexts texts: Set<String>, tables: [(table: String, column: String)]) throws -> Int {
        try rows(ofKeyTexts: texts, tables: tables).rowCount
    }

    package var commitCount: Int? { commitCounts.commits }
}
