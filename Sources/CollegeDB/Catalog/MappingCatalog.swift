/// Where the daemon keeps what it knows beyond the shards' own data: each key's record and its
/// shard, the shards registered at run time, per-shard statistics and kept counters, the
/// round-robin position and the intents of moves in progress.
///
/// Two catalogs implement it: ``MappingStore``, a SQLite file in the data directory (the
/// embedded default, one daemon), and ``PostgresCatalog``, tables in a PostgreSQL database
/// that many daemons share (`--catalog postgresql://…`). Every method blocks its caller until
/// the catalog answers: call it off any event loop and off the cooperative pool (through
/// `BlockingWork`).
///
/// Rebalance plans and drains are kept by either (``RebalancePlanCatalog``). Adoption keeps its
/// progress in the SQLite store only (it adopts SQLite files); ``sqliteStore(for:)`` gives it
/// the store or refuses.
package protocol MappingCatalog: RebalancePlanCatalog, SchemaChangeCatalog {
    /// How keys are stored: digests or plain text.
    var keyCodec: MappingKeyCodec { get }
    /// Whether other daemons share this catalog. Then a new record is committed before its
    /// first write runs, since another daemon may route the key at once, and it is kept when
    /// that write fails (an empty record on its shard); with a private catalog a failed first
    /// write leaves no mapping.
    var isShared: Bool { get }

    /// The record `key` belongs to and its shard, or nil when the key is unmapped.
    func record(forKey key: String) throws -> (id: Int64, shard: String)?
    /// The shard of the record that `key` belongs to, or nil when the key is unmapped.
    func shard(forKey key: String) throws -> String?
    /// The mapping of the record that `key` belongs to, or nil.
    func mapping(forKey key: String) throws -> ShardMapping?
    /// The shard record `id` is mapped to, or nil when there is no such record.
    func shard(ofRecord id: Int64) throws -> String?
    /// ``shard(ofRecord:)`` for a caller in a task: the answer of every fenced call.
    func currentShard(ofRecord id: Int64) async throws -> String?
    /// Returns the existing mapping of `key`, or creates one on the shard that `choose` picks,
    /// so that racing first writes of one key (from any daemon of the catalog) end on one
    /// shard. `choose` gets the round-robin position and says whether it consumed it;
    /// `onCreate` sees the new record before this daemon's other callers can read it.
    func allocate(
        key: String,
        choose: (_ roundRobinPosition: Int64) throws -> (shard: String, consumesPosition: Bool),
        onCreate: (_ record: Int64) -> Void
    ) throws -> Allocation
    /// The round-robin position the next allocation will use.
    func roundRobinPosition() throws -> Int64
    /// Reserves `count` counters of `collegedb_id()`'s daemon node durably and returns the
    /// first (``ClusterIdentifiers``).
    func reserveIdentifiers(_ count: Int64) throws -> Int64
    /// The node of `collegedb_id()` on the PostgreSQL shard `shard`: the one it was given, or a
    /// new one (``ClusterIdentifiers/firstShardNode`` and up), the same for every daemon.
    func identifierNode(ofShard shard: String) throws -> Int64
    /// Statistics for each shard that has ever held a record.
    func statistics() throws -> [String: ShardStatistics]
    /// Deletes every mapping and the coordinator's state; returns how many records were deleted.
    @discardableResult func clearAll() throws -> Int
    /// Whether the catalog answers a trivial query.
    func isHealthy() -> Bool
    /// Closes every connection; later calls fail.
    func close() throws

    /// Maps `key` (and `additionalKeys`) to `shard`: a new record, or the key's record
    /// re-pointed. A key of another record is a `KEY_CONFLICT`.
    func setMapping(key: String, shard: String, additionalKeys: [String]) throws
    /// Maps each of `keys` to `shard` as a record of its own, all or none (`KEY_CONFLICT`).
    func importMappings(_ keys: [String], shard: String) throws
    /// Adds `keys` to the record of `key`; `MAPPING_NOT_FOUND` when `key` is unmapped.
    func addLookupKeys(key: String, keys: [String]) throws
    /// Every key of the record of `key`, as stored keys are shown (digests when hashed).
    func lookupKeys(ofKey key: String) throws -> [String]
    /// Points the record of `key` at `shard` (no rows move); returns the shard it was on.
    @discardableResult func updateMapping(key: String, shard: String) throws -> String
    /// Removes the record of `key`; returns how many lookup keys went with it.
    @discardableResult func deleteMapping(key: String) throws -> Int
    /// Removes record `id` with its lookup keys: a new record whose first write failed.
    func deleteRecord(id: Int64) throws
    /// One page of the keys mapped to `shard`, in a stable order, after `cursor`.
    func keys(onShard shard: String, limit: Int, after cursor: KeyCursor?) throws -> (keys: [String], next: KeyCursor?)
    /// Deletes every mapping; returns how many records were deleted.
    func clearMappings() throws -> Int

    /// Every registration of a shard added or removed at run time, in the order made.
    func shardRegistrations() throws -> [ShardRegistration]
    /// Records that a shard was registered (with its location) or unregistered.
    func recordRegistration(_ registration: ShardRegistration) throws
    /// Forgets what was recorded about shard `name`.
    func forgetRegistration(of name: String) throws
    /// How many records map to `shard`, counted exactly.
    func recordCount(onShard shard: String) throws -> Int64
    /// Sets the recorded count of `shard`, or moves it by `delta`, never below 0.
    func adjustRecordCount(onShard shard: String, to count: Int64?, by delta: Int64) throws
    /// The query and error counts kept for each shard.
    func savedMetrics() throws -> [String: (queries: Int, errors: Int)]
    /// Keeps the query and error counts of each shard for the next start.
    func saveMetrics(_ metrics: [String: (queries: Int, errors: Int)]) throws

    /// Records the intent to move `recordID`'s rows from `from` to `to`; returns its id.
    func beginMove(recordID: Int64, from: String, to: String, plan: MovePlan) throws -> Int64
    /// Points the record at the move's target and marks the intent flipped, atomically.
    func flipMove(_ id: Int64, recordID: Int64, to shard: String) throws
    /// Forgets a move that is done or undone.
    func finishMove(_ id: Int64) throws
    /// The moves a crash or a kill left unfinished, oldest first.
    func unfinishedMoves() throws -> [MoveIntent]
    /// The shards a drain plan keeps from new keys.
    func drainingShards() throws -> Set<String>
    /// Lets `shard` take new keys again (it was unregistered).
    func stopDraining(_ shard: String) throws

    /// Starts telling `changed` about records whose mapping another daemon re-pointed or
    /// removed (nil: possibly any), `othersChanged` when the drained or registered shards may have changed,
    /// and `listening` whether changes can be heard at all; a catalog no one else writes never
    /// calls any.
    func watchChanges(
        changed: @escaping @Sendable (_ record: Int64?) -> Void,
        othersChanged: @escaping @Sendable (SharedCatalogChange) -> Void,
        listening: @escaping @Sendable (Bool) -> Void
    )
}

extension MappingCatalog {
    /// Asks ``shard(ofRecord:)`` on a blocking-work thread.
    package func currentShard(ofRecord id: Int64) async throws -> String? {
        try await BlockingWork.run { try self.shard(ofRecord: id) }
    }

    /// The SQLite mapping store, for work only it keeps (adoptions).
    /// - Throws: `UNSUPPORTED_ON_BACKEND` with a shared PostgreSQL catalog.
    func sqliteStore(for operation: String) throws -> MappingStore {
        guard let store = self as? MappingStore else {
            throw CollegeDBError(
                .unsupportedOnBackend,
                "\(operation) keeps its progress in the SQLite mapping store; this daemon's catalog is PostgreSQL "
                    + "(--catalog), where it is not supported"
            )
        }
        return store
    }
}

extension MappingStore: MappingCatalog {
    package var isShared: Bool { false }

    package func shard(ofRecord id: Int64) throws -> String? {
        try shards(ofRecords: [id])[id]
    }

    package func watchChanges(
        changed: @escaping @Sendable (_ record: Int64?) -> Void,
        othersChanged: @escaping @Sendable (SharedCatalogChange) -> Void,
        listening: @escaping @Sendable (Bool) -> Void
    ) {}
}
