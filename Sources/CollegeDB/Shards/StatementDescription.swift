/// What SQLite says of a compiled statement, without running it.
public struct StatementDescription: Sendable, Hashable {
    public var shard: String
    public var parameterCount: Int
    public var columns: [String]
    /// SQLite's own verdict (`sqlite3_stmt_readonly`), not a guess from the text.
    public var readOnly: Bool
}
