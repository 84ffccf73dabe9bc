/// Decides which records move where, with as few moves as the strategy allows. Pure: it sees
/// keys and counts, never a database.
public enum RebalancePlanner {
    /// One record's move.
    public struct Move: Sendable, Hashable {
        public var record: Int64
        public var from: String
        public var to: String

        public init(record: Int64, from: String, to: String) {
            self.record = record
            self.from = from
            self.to = to
        }
    }

    /// Under `hash`: the record whose key is `key`, now on `from`, belongs to its rendezvous
    /// choice among `candidates` (the shards that take new keys); nil when it is already there.
    /// Adding a shard to N moves only the keys it wins, about 1/(N+1) of them, all onto it.
    public static func hashTarget(key: String, from: String, candidates: [ShardCandidate]) -> String? {
        guard let winner = RendezvousHashing.select(key: key, among: candidates)?.name, winner != from else {
            return nil
        }
        return winner
    }

    /// Under the other strategies: how many records move between which shards so that every
    /// record leaves the `drained` shards and then the most loaded shard is within `tolerance`
    /// of the mean of the `receivers` (the shards that take new keys). Each step moves one
    /// record from the most to the least loaded shard, so no record moves twice and no move is
    /// spared that the tolerance needs. At most `maxMoves` in all.
    public static func countMoves(
        counts: [String: Int64],
        receivers: [String],
        drained: Set<String>,
        tolerance: Double,
        maxMoves: Int
    ) -> [(from: String, to: String, records: Int)] {
        guard !receivers.isEmpty else { return [] }
        var load = Dictionary(receivers.map { ($0, counts[$0] ?? 0) }, uniquingKeysWith: { first, _ in first })
        var pairs: [String: [String: Int]] = [:]
        var budget = maxMoves
        func leastLoaded() -> String { receivers.min { (load[$0]!, $0) < (load[$1]!, $1) }! }
        for shard in drained.sorted() {
            var left = counts[shard] ?? 0
            while left > 0, budget > 0 {
                let target = leastLoaded()
                // Fill the least loaded shard up to the next one's load in one step.
                let next = receivers.filter { $0 != target }.map { load[$0]! }.min() ?? Int64.max
                let step = min(left, Int64(budget), max(1, next - load[target]!))
                load[target]! += step
                pairs[shard, default: [:]][target, default: 0] += Int(step)
                left -= step
                budget -= Int(step)
            }
        }
        let total = receivers.map { load[$0]! }.reduce(0, +)
        let mean = Double(total) / Double(receivers.count)
        while budget > 0 {
            let most = receivers.max { (load[$0]!, $1) < (load[$1]!, $0) }!
            let least = leastLoaded()
            guard Double(load[most]!) > tolerance * mean, load[most]! - load[least]! > 1 else { break }
            load[most]! -= 1
            load[least]! += 1
            budget -= 1
            pairs[most, default: [:]][least, default: 0] += 1
        }
        return pairs.keys.sorted().flatMap { from in
            pairs[from]!.keys.sorted().map { to in (from, to, pairs[from]![to]!) }
        }
    }
}
