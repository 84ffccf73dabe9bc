/// Where rebalance plans live beside the mappings they change: each plan's moves (one per
/// record), its progress and the shards it drains. A move's flip and the plan's progress commit
/// together, so what a plan says is done is exactly what the mappings say.
///
/// Both catalogs keep them: ``MappingStore`` for one daemon, ``PostgresCatalog`` for every
/// daemon that shares it, where one daemon at a time runs a plan (``acquireRebalanceLease()``)
/// and any of them can read, cancel or resume it. Every method but the lease blocks its caller
/// until the catalog answers.
package protocol RebalancePlanCatalog: Sendable {
    /// Exact record counts per shard, from the mappings themselves.
    func recordCounts() throws -> [String: Int64]
    /// Calls `body` with each record on `shard` and one stored key of it (its first, where the
    /// catalog keeps which that is), in record order.
    func forEachRecord(onShard shard: String, _ body: (_ record: Int64, _ key: StoredKey?) throws -> Void) throws
    /// The record and shard of each stored key given (nil for an unmapped one).
    func records(forStoredKeys keys: [StoredKey]) throws -> [(id: Int64, shard: String)?]
    /// Every stored key of each of `records`, mapped to its record.
    func storedKeys(ofRecords records: [Int64]) throws -> [StoredKey: Int64]
    /// The shard each of `records` maps to now; a deleted record is absent.
    func shards(ofRecords records: [Int64]) throws -> [Int64: String]

    /// Persists a plan and its moves, and marks the drained shards, in one transaction.
    func createPlan(
        strategy: String,
        drain: [String],
        tolerance: Double,
        moves: [RebalancePlanner.Move],
        unmappedRows: Int,
        automatic: Bool
    ) throws -> Int64
    /// Adds moves of records the plan does not hold yet (records that reached a drained shard
    /// while it ran); returns how many it added.
    @discardableResult func appendMoves(ofPlan planID: Int64, _ moves: [RebalancePlanner.Move]) throws -> Int
    /// A plan's summary: its moves per pair of shards.
    func planSummary(_ planID: Int64) throws -> RebalancePlanSummary
    /// One page of a plan's moves in record order, after `cursor` (a record id).
    func moves(ofPlan planID: Int64, limit: Int, after cursor: Int64?) throws -> (moves: [RebalanceMove], next: Int64?)
    /// The notes of a plan's skipped moves that start with `prefix`, each with how many moves
    /// have it, in the order of their first record.
    func skipNotes(ofPlan planID: Int64, startingWith prefix: String) throws -> [(note: String, moves: Int)]
    /// The next pending moves of a plan, all between one pair of shards: at most `limit`.
    func nextPendingMoves(ofPlan planID: Int64, limit: Int) throws -> (from: String, to: String, records: [Int64])?
    /// Up to `limit` records a plan still has to move off `shard`, in record order.
    func pendingRecords(ofPlan planID: Int64, from shard: String, limit: Int) throws -> [Int64]
    /// Marks moves skipped, each with its reason, and counts them in the plan's progress.
    func skipMoves(ofPlan planID: Int64, _ skipped: [(record: Int64, reason: String)]) throws
    /// Points a batch's records at `to`, marks their moves done and the intent `moveID`
    /// flipped, and adds to the plan's progress, in one transaction.
    func flipBatchMove(_ moveID: Int64, planID: Int64, records: [Int64], from: String, to: String, rows: Int) throws
    /// Sets a plan's state; `rowsPerSecond` (when given) replaces its throttle. Cancelling
    /// frees its drained shards; running marks them drained again.
    func setPlanState(_ planID: Int64, _ state: RebalanceState, rowsPerSecond: Double??) throws
    /// Adds to the time a plan has run, leaving its state as it is (a cancel from another
    /// daemon stands).
    func addRunningTime(ofPlan planID: Int64, milliseconds: Int64) throws
    /// Adds an error to a plan's report (the most recent 100 are kept).
    func appendPlanError(_ planID: Int64, _ message: String) throws
    /// A plan's status (the newest plan's when `planID` is nil); nil when there is no plan.
    /// - Throws: `PLAN_NOT_FOUND` for a `planID` that names none.
    func planStatus(_ planID: Int64?) throws -> RebalanceStatus?
    /// The plans a stop left running or paused, oldest first.
    func interruptedPlans() throws -> [Int64]
    /// The drained shards of plan `planID`.
    func drainedShards(ofPlan planID: Int64) throws -> [String]

    /// The right to run rebalance plans, held until the lease is released: nil when another
    /// daemon of the catalog holds it now. A private catalog always grants it (the daemon's
    /// job runner keeps to one plan at a time).
    func acquireRebalanceLease() async throws -> (any RebalanceLease)?
}

extension RebalancePlanCatalog {
    /// Sets a plan's state, keeping its throttle.
    func setPlanState(_ planID: Int64, _ state: RebalanceState) throws {
        try setPlanState(planID, state, rowsPerSecond: nil)
    }
}

/// The right to run rebalance plans, held from acquiring it until ``release()``.
package protocol RebalanceLease: Sendable {
    /// Gives the right up; later calls do nothing.
    func release() async
}

/// The lease of a catalog no other daemon shares: there is nothing to hold.
struct PrivateRebalanceLease: RebalanceLease {
    func release() async {}
}
