/// What `generateRebalancePlan` persisted: how many records move between which shards.
public struct RebalancePlanSummary: Sendable, Hashable {
    /// Records moving from one shard to another.
    public struct Pair: Sendable, Hashable {
        public var from: String
        public var to: String
        public var records: Int
    }

    public var planID: Int64
    /// Moves in the plan (one per record).
    public var moves: Int
    public var byPair: [Pair]
    /// Milliseconds since 1970.
    public var createdAt: Int64
    /// Rows found on a shard whose key has no mapping at all: reported, never moved or deleted.
    public var unmappedRows: Int
    /// Rows whose primary key is already taken on the shard they would move to, by table, as
    /// ``CollegeDB/rebalanceDryRun(planID:)`` finds them; nil when they could not be looked for
    /// (a shard that did not answer) or were not (a plan of the automatic rebalance).
    public var conflicts: [RebalanceDryRun.KeyConflict]?
}

/// One record's move in a plan.
public struct RebalanceMove: Sendable, Hashable {
    public var record: Int64
    /// The record's first lookup key as clients see stored keys (the digest when hashed).
    public var key: String?
    public var from: String
    public var to: String
    /// `pending`, `moved` or `skipped`.
    public var state: String
    /// Why a move was skipped.
    public var note: String?
}
