/// An owned table of an adopted database, and the column whose values are its rows' keys: the
/// same rule `reassignShard` uses to find a key's rows (`--owner TABLE=COLUMN`, else a table
/// whose primary key is `id`), so that adopted records can later be moved and rebalanced.
public struct AdoptedTable: Sendable, Hashable, Codable {
    public var table: String
    public var column: String
}
