import GRDB

/// What adopting an existing database reads of a shard: its tables, whether each can be
/// sharded and why not, and its keys in order. A backend offers it through
/// ``ShardBackend/adoptable``; SQLite shards do, PostgreSQL shards do not.
package protocol AdoptableShard: AnyObject, Sendable {
    /// The shard's name.
    var name: String { get }

    /// The user's tables, by name (the database's and the daemon's own left out).
    func userTables() throws -> [String]

    /// Whether `table` can be sharded by key, and why not. The key column is `keyColumn` when
    /// given, else the table's `ownership` column, else its primary key when that is one column
    /// named `id` (or `defaultKey`).
    func validate(
        table: String,
        keyColumn: String?,
        ownership: [String: String],
        defaultKey: String
    ) throws -> TableValidation

    /// Whether any owned table holds a row.
    func hasOwnedRows(ownership: [String: String]) throws -> Bool

    /// Calls `body` with each distinct key of `table` after `cursor` (nil: from the first), in
    /// the column's order, as text and as stored, from one snapshot; stops when it returns false.
    func forEachKey(
        of table: AdoptedTable,
        after cursor: DatabaseValue?,
        _ body: (_ text: String, _ value: DatabaseValue) throws -> Bool
    ) throws
}

extension AdoptableShard {
    /// Whether `table` can be sharded by key, with `id` as the default key column.
    func validate(table: String, keyColumn: String?, ownership: [String: String]) throws -> TableValidation {
        try validate(table: table, keyColumn: keyColumn, ownership: ownership, defaultKey: "id")
    }
}
