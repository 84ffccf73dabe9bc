/// A shard as the strategies see it: a name, a hashing weight, and where it is.
public struct ShardCandidate: Sendable, Hashable {
    public var name: String
    /// Relative share of keys under `hash` (default 1).
    public var weight: Double
    public var region: Region?
    /// Relative share of keys among the shards of one region under `location` (default 1).
    public var priority: Double

    public init(name: String, weight: Double = 1, region: Region? = nil, priority: Double = 1) {
        self.name = name
        self.weight = weight
        self.region = region
        self.priority = priority
    }
}
