/// The rows of `federateQuery`: every shard's rows merged, ordered and cut.
public struct FederatedResult: Sendable {
    public var columns: [String]
    public var rows: [[SQLValue]]
    /// Rows before the cut over all shards; nil when a shard failed and could not tell.
    public var total: Int?
    /// The shards that answered, in shard order.
    public var shards: [String]
    /// The shards that failed, each with its error; their rows are missing.
    public var errors: [(shard: String, error: CollegeDBError)]
    /// The longest time a shard spent, in milliseconds.
    public var durationMilliseconds: Double
}

/// The answer of `federateCount`: one integer per shard and their sum.
public struct FederatedCount: Sendable {
    /// One shard's count, or the error it failed with.
    public struct Entry: Sendable {
        public var shard: String
        public var count: Result<Int64, CollegeDBError>
    }

    /// The sum over the shards that answered.
    public var total: Int64
    public var shards: [Entry]
}
