/// Chooses a shard for an unmapped key: a pure function of its inputs.
public struct ShardSelection: Sendable {
    public var targetRegion: Region?

    public init(targetRegion: Region? = nil) { self.targetRegion = targetRegion }

    /// The chosen shard and whether the round-robin position was consumed. `candidates` must not
    /// be empty.
    public func select<Generator: RandomNumberGenerator>(
        _ kind: StrategyKind,
        key: String,
        candidates: [ShardCandidate],
        roundRobinPosition: Int64,
        using generator: inout Generator
    ) -> (shard: String, consumesPosition: Bool) {
        precondition(!candidates.isEmpty, "a strategy needs at least one candidate")
        switch kind {
        case .hash:
            return (RendezvousHashing.select(key: key, among: candidates)?.name ?? candidates[0].name, false)
        case .roundRobin:
            let index = Int(UInt64(bitPattern: roundRobinPosition) % UInt64(candidates.count))
            return (candidates[index].name, true)
        case .random:
            return (candidates.randomElement(using: &generator)!.name, false)
        case .location:
            let chosen = LocationStrategy.select(key: key, among: candidates, target: targetRegion)
            return (chosen?.name ?? candidates[0].name, false)
        }
    }
}
