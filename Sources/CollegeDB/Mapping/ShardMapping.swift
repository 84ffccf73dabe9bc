/// Where a record lives: its shard, and when the mapping was made and last changed
/// (milliseconds since 1970).
public struct ShardMapping: Sendable, Hashable {
    public var shard: String
    public var createdAt: Int64
    public var updatedAt: Int64
}

/// The outcome of `allocate`: the record's shard, and whether this call created the mapping.
public struct Allocation: Sendable, Hashable {
    public var shard: String
    public var created: Bool
    /// The record made, when `created`.
    public var record: Int64?

    public init(shard: String, created: Bool, record: Int64? = nil) {
        self.shard = shard
        self.created = created
        self.record = record
    }
}

/// Per-shard statistics kept in the mapping store.
public struct ShardStatistics: Sendable, Hashable {
    public var shard: String
    /// Distinct records mapped to the shard.
    public var count: Int64
    /// Milliseconds since 1970 of the last change, or nil when none was recorded.
    public var lastUpdated: Int64?
}
