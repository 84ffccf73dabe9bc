import Synchronization

/// The plain text of the keys a plan moves off a shard, for a mapping store that keeps only
/// digests. A digest cannot be looked up in a shard, so the shard's owning columns are read once
/// and each value digested; the texts of the next many records to move are kept, and each batch
/// then finds its rows by key through the owning columns' indexes instead of digesting every row
/// of the shard again.
///
/// A key that had no rows at the scan has no text. On a SQLite shard that stays true only while
/// the shard commits nothing: a batch holding such a key after a commit on the shard scans again
/// (its records are held by then, so what that scan finds is what the batch moves). A PostgreSQL
/// shard cannot tell its commits, so there the mover looks for such keys itself, under the
/// record's lock (``PostgresRecordMover``).
package final class KeyTextCache: Sendable {
    /// Records of one shard whose key texts one scan keeps.
    static let recordsPerScan = 100_000

    private struct Snapshot {
        var shard: String
        /// The stored keys looked for, and the texts of those found.
        var wanted: Set<StoredKey>
        var texts: [StoredKey: String]
        /// The records whose keys the scan looked for.
        var records: Set<Int64>
        /// The shard's commit count when the scan began, if it counts them.
        var commits: Int?
    }

    private let snapshot = Mutex<Snapshot?>(nil)
    private let store: any MappingCatalog
    private let planID: Int64

    init(store: any MappingCatalog, planID: Int64) {
        self.store = store
        self.planID = planID
    }

    /// Whether the last scan, of `source`, looked for the keys of every one of `records` (always
    /// true for plain keys, which need no scan): then finding their texts before a batch holds
    /// them would scan nothing. Their texts may still be stale; ``texts(of:on:tables:)`` tells.
    func scanned(_ records: [Int64], on source: some ShardBackend) -> Bool {
        guard store.keyCodec.hashesKeys else { return true }
        return snapshot.withLock { snapshot in
            guard let snapshot, snapshot.shard == source.name else { return false }
            return records.allSatisfy(snapshot.records.contains)
        }
    }

    /// The texts of `keys` (stored forms) that have rows on `source`; a key left out has none
    /// (on a shard that counts its commits) or had none at the last scan. Plain keys are their
    /// own text. Blocks on the shard when it has to scan.
    func texts(
        of keys: some Collection<StoredKey>,
        on source: some ShardBackend,
        tables: [(table: String, column: String)]
    ) throws -> [StoredKey: String] {
        let codec = store.keyCodec
        guard codec.hashesKeys else {
            return Dictionary(keys.map { ($0, codec.displayed($0)) }, uniquingKeysWith: { first, _ in first })
        }
        // Looked up outside the lock (a copy of the snapshot shares its storage), so that batches
        // moving at once do not wait for each other's lookups.
        if let known = Self.lookup(keys, in: snapshot.withLock { $0 }, source: source) { return known }
        let pending = try store.pendingRecords(ofPlan: planID, from: source.name, limit: Self.recordsPerScan)
        var wanted = Set(try store.storedKeys(ofRecords: pending).keys)
        wanted.formUnion(keys)
        var fresh = Snapshot(
            shard: source.name,
            wanted: wanted,
            texts: [:],
            records: Set(pending),
            commits: source.commitCount
        )
        // A key is in many rows (a user's posts) and tables (its id too): digest it once.
        var seen = Set<String>()
        try source.forEachOwnerKey(tables: tables, distinct: false) { text in
            guard seen.insert(text).inserted else { return }
            let stored = codec.storedValue(for: text)
            if wanted.contains(stored) { fresh.texts[stored] = text }
        }
        snapshot.withLock { $0 = fresh }
        var found: [StoredKey: String] = [:]
        for key in keys { found[key] = fresh.texts[key] }
        return found
    }

    /// The texts from the last scan, when it looked for every one of `keys` and can still vouch
    /// for the keys it did not find (or the shard cannot tell, and the caller looks for them).
    private static func lookup(
        _ keys: some Collection<StoredKey>,
        in snapshot: Snapshot?,
        source: some ShardBackend
    ) -> [StoredKey: String]? {
        guard let snapshot, snapshot.shard == source.name, keys.allSatisfy(snapshot.wanted.contains) else {
            return nil
        }
        var texts: [StoredKey: String] = [:]
        for key in keys { texts[key] = snapshot.texts[key] }
        guard texts.count == keys.count || snapshot.commits == nil || snapshot.commits == source.commitCount else {
            return nil
        }
        return texts
    }
}
