import Logging

/// What a mover needs of the engine, the same for every backend.
package struct MoveContext: Sendable {
    /// The catalog whose mappings a move flips.
    package let catalog: any MappingCatalog
    /// Table to owning column, beyond the default (tables whose primary key is `id`).
    package let ownership: [String: String]
    /// The plain text of a rebalance plan's keys, to find their rows by; nil outside a plan.
    package let keyTexts: KeyTextCache?
    /// Where a move that fails after its copy says what it left for the next start.
    package let logger: Logger
    package let killPoint: TestKillPoint

    package init(
        catalog: any MappingCatalog,
        ownership: [String: String],
        keyTexts: KeyTextCache? = nil,
        logger: Logger,
        killPoint: TestKillPoint = .fromEnvironment
    ) {
        self.catalog = catalog
        self.ownership = ownership
        self.keyTexts = keyTexts
        self.logger = logger
        self.killPoint = killPoint
    }
}

/// What one batch of a plan's moves did.
package struct MoveBatchOutcome: Sendable {
    /// Records moved.
    package var moved = 0
    /// Rows that went with them.
    package var rows = 0
    /// Records left where they are, each with why.
    package var skipped: [(record: Int64, reason: String)] = []

    package static func += (outcome: inout MoveBatchOutcome, other: MoveBatchOutcome) {
        outcome.moved += other.moved
        outcome.rows += other.rows
        outcome.skipped += other.skipped
    }

    /// Which of a plan's `records` are still on `source` (by `current`, their shards now), and
    /// why each of the others is skipped.
    static func stillOn(
        _ source: String,
        _ records: [Int64],
        current: [Int64: String]
    ) -> (moving: [Int64], skipped: [(record: Int64, reason: String)]) {
        var moving: [Int64] = []
        var skipped: [(record: Int64, reason: String)] = []
        for record in records {
            switch current[record] {
            case nil: skipped.append((record, "its mapping was deleted after planning"))
            case source?: moving.append(record)
            case let other?: skipped.append((record, "it moved to '\(other)' after planning"))
            }
        }
        return (moving, skipped)
    }
}

/// Moves records' rows from one shard to another of the same backend, then their mappings,
/// crash-safely: an intent in the catalog, the copy, the flip, the delete. A shard makes the
/// mover to a target of its kind (``ShardBackend/mover(to:context:)``); the callers (`reassignShard`,
/// the rebalance job, the recovery at start) hold the records and never ask which backend it is.
package protocol ShardMover: Sendable {
    /// Moves the rows `key` owns (in `table` only, if given) and then record `recordID`'s
    /// mapping; returns how many rows moved. Call it while the record is held.
    /// - Throws: `MAPPING_NOT_FOUND` when the record is no longer on the source.
    func move(key: String, recordID: Int64, table: String?) async throws -> Int

    /// Moves `records` of plan `planID` as one batch: all of them or, on an error, none.
    /// Records no longer on the source (moved or deleted since planning) are skipped, never
    /// clobbered. Call it while every record is held.
    func move(planID: Int64, records: [Int64]) async throws -> MoveBatchOutcome

    /// Finishes or undoes a move a crash interrupted: completes one whose flip committed and
    /// undoes one whose flip did not.
    func recover(_ intent: MappingStore.MoveIntent) async throws

    /// The error that stops a rebalance job, for an error a batch threw: a shard, the disk or
    /// the catalog that fails, or a move the backend cannot make; nil when the error belongs to the batch's rows alone (a row the
    /// target refuses), so that its records are tried one by one and only the failing ones are
    /// skipped.
    func stoppingError(_ error: any Error) -> CollegeDBError?

    /// Why a batch's rows could not move, for its records' skip reasons.
    func describe(_ error: any Error) -> String
}

extension ShardMover {
    /// A shard, the disk or the catalog that fails, or a move the backend cannot make.
    package func stoppingError(_ error: any Error) -> CollegeDBError? { failureOfShardOrCatalog(error) }

    /// The error as the engine describes it.
    package func describe(_ error: any Error) -> String { "\(error)" }

    /// `error` when it says that a shard does not serve, the disk is full, the catalog fails or
    /// the backend cannot move these rows at all.
    func failureOfShardOrCatalog(_ error: any Error) -> CollegeDBError? {
        guard let error = error as? CollegeDBError,
            [.shardUnavailable, .storageFull, .mappingStoreFailed, .unsupportedOnBackend].contains(error.code)
        else { return nil }
        return error
    }
}
