/// How a shard is chosen for a key that has no mapping yet.
public enum StrategyKind: String, Sendable, Hashable, CaseIterable {
    /// Rendezvous (highest-random-weight) hashing over shard names: consistent, optionally weighted.
    case hash
    /// The next shard in order, from a position the coordinator persists.
    case roundRobin = "round-robin"
    /// A uniformly random shard.
    case random
    /// The shards of the region nearest the target region, weighed by priority.
    case location
}

/// Whether a statement reads or writes, as SQLite compiles it.
public enum OperationType: String, Sendable, Hashable {
    case read
    case write
}

/// The strategy used for reads and the one used for writes (the same for a plain strategy).
public struct RoutingStrategy: Sendable, Hashable {
    public var read: StrategyKind
    public var write: StrategyKind

    public init(read: StrategyKind, write: StrategyKind) {
        self.read = read
        self.write = write
    }

    public init(_ kind: StrategyKind) { self.init(read: kind, write: kind) }

    public func kind(for operation: OperationType) -> StrategyKind {
        operation == .read ? read : write
    }
}
