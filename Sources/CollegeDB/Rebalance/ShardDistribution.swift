/// How records and rows spread over the shards, for `analyzeShardDistribution`.
public struct ShardDistribution: Sendable, Hashable {
    /// One shard's share.
    public struct Shard: Sendable, Hashable {
        public var shard: String
        /// Records mapped to the shard, counted exactly.
        public var records: Int64
        /// Rows of the owning tables on the shard; nil when the shard does not answer.
        public var rows: Int64?
        public var sizeBytes: Int64?
        /// Whether a drain plan keeps the shard from new keys.
        public var draining: Bool
    }

    public var shards: [Shard]
    /// Mean records per shard that takes new keys.
    public var mean: Double
    /// The most loaded shard's records over the mean.
    public var maxOverMean: Double
    public var tolerance: Double

    /// Whether the most loaded shard is within the tolerance of the mean.
    public var balanced: Bool { maxOverMean <= tolerance }

    init(shards: [Shard], tolerance: Double) {
        self.shards = shards
        self.tolerance = tolerance
        let counted = shards.filter { !$0.draining }.map { Double($0.records) }
        mean = counted.isEmpty ? 0 : counted.reduce(0, +) / Double(counted.count)
        let maximum = shards.map { Double($0.records) }.max() ?? 0
        maxOverMean = mean > 0 ? maximum / mean : (maximum > 0 ? .infinity : 1)
    }
}
