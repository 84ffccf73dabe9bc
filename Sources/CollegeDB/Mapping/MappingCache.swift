import Synchronization

/// Recently used mappings in memory, so that a request for a hot key reads no SQLite for its
/// route. It cannot serve a stale shard: every entry carries the mapping epoch it was read at
/// (``RecordLocks/epoch``), every path that re-points or removes a mapping notes the change of
/// its record in ``RecordLocks`` (moves, rebalance batches, `updateShardMapping`,
/// `setShardMapping` of a mapped key, `deleteShardMapping`, a failed first write) or of every
/// record (`clearAllMappings`, `flush`), and an entry whose record changed after its epoch is a
/// miss. Moving some records leaves the others' entries valid. New mappings need no
/// invalidation. When full, an eighth of the entries is dropped.
final class MappingCache: Sendable {
    private struct Entry {
        let record: Int64
        let shard: String
        let epoch: UInt64
    }

    /// How many keys it holds at most.
    let capacity: Int
    private let entries = Mutex<[String: Entry]>([:])
    /// Which records changed since an entry was read.
    private let locks: RecordLocks
    private let isServing: Atomic<Bool>

    /// - Parameter serving: Whether it answers from the start; a shared catalog's cache serves
    ///   only while it hears the other daemons' changes.
    init(capacity: Int, locks: RecordLocks, serving: Bool) {
        self.capacity = capacity
        self.locks = locks
        isServing = Atomic(serving)
    }

    /// Whether it answers: while not, every lookup is a miss.
    var serving: Bool {
        get { isServing.load(ordering: .acquiring) }
        set { isServing.store(newValue, ordering: .releasing) }
    }

    /// The record of `key` when its cached mapping has not changed since it was read, or nil.
    func record(forKey key: String) -> (id: Int64, shard: String)? {
        guard capacity > 0, serving, let entry = entries.withLock({ $0[key] }),
            locks.isCurrent(entry.record, readAt: entry.epoch)
        else { return nil }
        return (entry.record, entry.shard)
    }

    /// Remembers `key`'s record, read from the store at `epoch`.
    func remember(key: String, record: Int64, shard: String, epoch: UInt64) {
        guard capacity > 0 else { return }
        entries.withLock { entries in
            if entries.count >= capacity, entries[key] == nil {
                for stale in entries.keys.prefix(max(1, capacity / 8)) { entries[stale] = nil }
            }
            entries[key] = Entry(record: record, shard: shard, epoch: epoch)
        }
    }
}
