import Synchronization

/// How many SQLite shards may be open at once, and which to close when more are: every SQLite
/// shard of an engine shares one. A shard opens on its first use (``ShardDatabase``); when
/// that makes more than ``maximum`` open, the least recently used ones that nothing uses (no
/// call, transaction, group commit, move or backup) are closed, giving back their descriptors
/// and caches. A shard in use is never closed, so for a moment more than ``maximum`` may be
/// open, one per thread using a different shard at most.
package final class OpenShardSlots: Sendable {
    /// Shards kept open at once. The default is 256.
    package let maximum: Int
    private let open = Mutex<[ObjectIdentifier: ShardDatabase]>([:])
    private let clock = Atomic<UInt64>(0)
    private let opens = Atomic(0)
    private let evictions = Atomic(0)
    /// How many are open, readable without the lock on every release.
    private let openCount = Atomic(0)

    /// At most `maximum` shards open at once (at least 1).
    package init(maximum: Int = 256) {
        self.maximum = max(maximum, 1)
    }

    /// A number that grows with each use, for least-recently-used order.
    func tick() -> UInt64 {
        clock.add(1, ordering: .relaxed).newValue
    }

    /// Shards open now, shards opened and shards closed to make room since the start.
    package var counts: (open: Int, opened: Int, evicted: Int) {
        (
            open.withLock { $0.count }, opens.load(ordering: .relaxed),
            evictions.load(ordering: .relaxed)
        )
    }

    /// Notes that `shard` opened, and closes the least recently used idle shards past the
    /// maximum. Call it holding no shard's lock.
    func opened(_ shard: ShardDatabase) {
        opens.add(1, ordering: .relaxed)
        openCount.store(
            open.withLock { open in
                open[ObjectIdentifier(shard)] = shard
                return open.count
            },
            ordering: .relaxed
        )
        closeIdlePastMaximum(sparing: shard)
    }

    /// Notes that a use of a shard ended: when more than the maximum are open (the shards that
    /// were in use when others opened), the least recently used idle ones close now. Call it
    /// holding no shard's lock.
    func released() {
        guard openCount.load(ordering: .relaxed) > maximum else { return }
        closeIdlePastMaximum(sparing: nil)
    }

    private func closeIdlePastMaximum(sparing shard: ShardDatabase?) {
        let (excess, candidates) = open.withLock { open -> (Int, [ShardDatabase]) in
            guard open.count > maximum else { return (0, []) }
            return (open.count - maximum, open.values.filter { $0 !== shard })
        }
        guard excess > 0 else { return }
        var left = excess
        let oldestFirst = candidates.map { (lastUse: $0.lastUse, shard: $0) }.sorted { $0.lastUse < $1.lastUse }
        for (_, candidate) in oldestFirst where left > 0 {
            if candidate.closeIfIdle() {
                evictions.add(1, ordering: .relaxed)
                left -= 1
            }
        }
    }

    /// Notes that `shard` closed.
    func closed(_ shard: ShardDatabase) {
        openCount.store(
            open.withLock { open in
                open.removeValue(forKey: ObjectIdentifier(shard))
                return open.count
            },
            ordering: .relaxed
        )
    }
}
