import GRDB
import Synchronization

/// The plain text of the keys a plan moves off a shard, for a mapping store that keeps only
/// digests. A digest cannot be looked up in a shard, so the shard's owning columns are read once
/// and each value digested; the texts of the next many records to move are kept, and each batch
/// then finds its rows by key through the owning columns' indexes instead of digesting every row
/// of the shard again.
///
/// A key that had no rows at the scan has no text. That stays true only while the shard commits
/// nothing: a batch holding such a key after a commit on the shard scans again (its records are
/// held by then, so what that scan finds is what the batch moves).
final class KeyTextCache: Sendable {
    /// Records of one shard whose key texts one scan keeps.
    static let recordsPerScan = 100_000

    private struct Snapshot {
        var shard: String
        /// The stored keys looked for, and the texts of those found.
        var wanted: Set<DatabaseValue>
        var texts: [DatabaseValue: String]
        /// The shard's commit count when the scan began.
        var commits: Int
    }

    private let snapshot = Mutex<Snapshot?>(nil)
    private let store: MappingStore
    private let planID: Int64

    init(store: MappingStore, planID: Int64) {
        self.store = store
        self.planID = planID
    }

    /// The texts of `keys` (stored forms) that have rows on `source`; a key left out has none.
    /// Plain keys are their own text. Blocks on SQLite when it has to scan.
    func texts(
        of keys: some Collection<DatabaseValue>,
        on source: ShardDatabase,
        tables: [(table: String, column: String)]
    ) throws -> Set<String> {
        let codec = store.keyCodec
        guard codec.hashesKeys else { return Set(keys.map(codec.displayed)) }
        if let known = snapshot.withLock({ Self.lookup(keys, in: $0, source: source) }) { return known }
        let pending = try store.pendingRecords(ofPlan: planID, from: source.name, limit: Self.recordsPerScan)
        var wanted = Set(try store.storedKeys(ofRecords: pending).keys)
        wanted.formUnion(keys)
        var fresh = Snapshot(shard: source.name, wanted: wanted, texts: [:], commits: source.commitCounts.commits)
        // A key is in many rows (a user's posts) and tables (its id too): digest it once.
        var seen = Set<String>()
        try source.forEachOwnerKey(tables: tables, distinct: false) { text in
            guard seen.insert(text).inserted else { return }
            let stored = codec.storedValue(for: text)
            if wanted.contains(stored) { fresh.texts[stored] = text }
        }
        snapshot.withLock { $0 = fresh }
        return Set(keys.compactMap { fresh.texts[$0] })
    }

    /// The texts from the last scan, when it looked for every one of `keys` and can still vouch
    /// for the keys it did not find.
    private static func lookup(
        _ keys: some Collection<DatabaseValue>,
        in snapshot: Snapshot?,
        source: ShardDatabase
    ) -> Set<String>? {
        guard let snapshot, snapshot.shard == source.name, keys.allSatisfy(snapshot.wanted.contains) else {
            return nil
        }
        let texts = keys.compactMap { snapshot.texts[$0] }
        guard texts.count == keys.count || snapshot.commits == source.commitCounts.commits else { return nil }
        return Set(texts)
    }
}
