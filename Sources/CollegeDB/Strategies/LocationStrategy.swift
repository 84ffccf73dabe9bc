/// Picks among the shards of the region nearest `target`, weighing them by priority with
/// rendezvous hashing so that a key keeps its shard. Shards with no region are used only when
/// no shard has one.
public enum LocationStrategy {
    public static func select(key: String, among candidates: [ShardCandidate], target: Region?) -> ShardCandidate? {
        let located = candidates.filter { $0.region != nil }
        guard let target, !located.isEmpty else {
            return RendezvousHashing.select(key: key, among: candidates)
        }
        let nearestDistance = located.map { $0.region!.distance(to: target) }.min()!
        let nearest = located.filter { $0.region!.distance(to: target) == nearestDistance }
        return RendezvousHashing.select(key: key, among: nearest, weight: \.priority)
    }
}
