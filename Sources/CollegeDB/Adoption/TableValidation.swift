/// Whether a table of a shard can be sharded by key, and exactly why not.
public struct TableValidation: Sendable, Hashable {
    public var table: String
    /// The column whose values are the rows' keys, when one was found.
    public var keyColumn: String?
    /// Whether its keys can be mapped.
    public var isValid: Bool
    /// What stops it, or limits it, each with what would make it work.
    public var issues: [String]
    /// Rows in the table; nil when the table does not exist.
    public var rowCount: Int64?
}
