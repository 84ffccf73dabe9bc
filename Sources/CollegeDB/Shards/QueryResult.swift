/// What one statement produced on one shard: its rows (possibly none) and D1-style metadata.
public struct QueryResult: Sendable, Hashable {
    /// The shard the statement ran on.
    public var shard: String
    /// The statement's result columns, in order.
    public var columns: [String]
    /// Each row holds one value per column, in column order.
    public var rows: [[SQLValue]]
    /// Rows changed by the statement (`sqlite3_changes`); 0 for a read.
    public var changes: Int
    /// The connection's last inserted rowid after the statement.
    public var lastRowID: Int64
    /// Time spent in SQLite, in milliseconds, as D1 reports it.
    public var durationMilliseconds: Double
}
