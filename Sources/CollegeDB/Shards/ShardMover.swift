import Logging

/// What a mover needs of the engine, the same for every backend.
package struct MoveContext: Sendable {
    /// The catalog whose mappings a move flips.
    package let catalog: any MappingCatalog
    /// Table to owning column, beyond the default (tables whose primary key is `id`).
    package let ownership: [String: String]
    /// Where a move that fails after its copy says what it left for the next start.
    package let logger: Logger
    package let killPoint: TestKillPoint

    package init(
        catalog: any MappingCatalog,
        ownership: [String: String],
        logger: Logger,
        killPoint: TestKillPoint = .fromEnvironment
    ) {
        self.catalog = catalog
        self.ownership = ownership
        self.logger = logger
        self.killPoint = killPoint
    }
}

/// What one batch of a plan's moves did.
package struct MoveBatchOutcome: Sendable {
    /// Rows that moved.
    package var rows = 0
    /// Records left where they are, each with why.
    package var skipped: [(record: Int64, reason: String)] = []

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
    /// mapping; returns how many rows moved. Call it while the record is held, having checked
    /// that the catalog puts it on the source (another daemon of a shared catalog may move it
    /// meanwhile: a PostgreSQL mover then throws `MAPPING_NOT_FOUND`).
    func move(key: String, recordID: Int64, table: String?) async throws -> Int

    /// How many of a plan's batches it moves well at once, each holding only its own records.
    var lanes: Int { get }

    /// Finds the plain text of `records`' keys on the source (a scan of its owning columns
    /// when the catalog keeps digests), so that moving them holds them only for the move.
    /// Call it before holding them.
    func findKeyTexts(of records: [Int64], in keyTexts: KeyTextCache) async throws

    /// Moves `records` of a plan as one batch: before the flip, an error leaves every record
    /// where it was; after it, the batch throws ``MoveFinishFailure`` and the next start
    /// finishes the move. Records no longer on the source (moved or deleted since planning)
    /// are skipped, never clobbered. Call it while every record is held.
    func move(planID: Int64, records: [Int64], keyTexts: KeyTextCache) async throws -> MoveBatchOutcome

    /// Finishes or undoes a move a crash interrupted: completes one whose flip committed and
    /// undoes one whose flip did not.
    func recover(_ intent: MoveIntent) async throws

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

    /// `error` when it says that a shard does not serve, the disk is full, the catalog fails,
    /// the backend cannot move these rows at all, or a flipped move could not finish.
    func failureOfShardOrCatalog(_ error: any Error) -> CollegeDBError? {
        if let error = error as? MoveFinishFailure { return error.error }
        guard let error = error as? CollegeDBError,
            [.shardUnavailable, .storageFull, .mappingStoreFailed, .unsupportedOnBackend].contains(error.code)
        else { return nil }
        return error
    }
}

/// A move that failed after its flip: the records are on the target, and their rows still on
/// the source until the next start deletes them (its intent says which). It stops a rebalance
/// job, since its records are neither moved whole nor left where they were.
package struct MoveFinishFailure: Error {
    package let error: CollegeDBError

    init(_ error: any Error, source: String) {
        self.error = CollegeDBError(
            .queryFailed,
            "moved records' rows could not be deleted from shard '\(source)'; the next start deletes them: \(error)"
        )
    }
}
