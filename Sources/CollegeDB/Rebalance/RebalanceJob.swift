import Logging
import Synchronization

/// Runs a plan's pending moves in batches until none is left, it is asked to stop (here, or by
/// another daemon of a shared catalog), or a shard fails. Each batch holds only its own
/// records, so every other key is served meanwhile; its progress is persisted with its flip,
/// so a restart resumes exactly where it was. A drain plan whose moves are done looks once
/// more for records that reached its drained shards meanwhile, and moves them too.
struct RebalanceJob: Sendable {
    let planID: Int64
    let store: any MappingCatalog
    let registry: @Sendable () -> ShardRegistry
    let locks: RecordLocks
    /// What the shards' movers need.
    let moveContext: MoveContext
    /// The plain text of the plan's keys, to find their rows by.
    let keyTexts: KeyTextCache
    /// Brings a target shard up to date (the schema changes it lacks) before rows move to it.
    let prepareTarget: @Sendable (any ShardBackend) async throws -> Void
    /// The records left on the plan's drained shards, as moves off them (none for a plan that
    /// drains nothing).
    let drainLeftovers: @Sendable () async throws -> [RebalancePlanner.Move]
    /// The rows of owning tables still on the plan's drained shards, counted there (none for a
    /// plan that drains nothing): a drain is done only when there are none.
    let drainResidue: @Sendable () async throws -> [(shard: String, rows: Int64)]
    /// The right to run plans, given up when the job ends.
    let lease: any RebalanceLease
    /// Rows per second at most; nil for as fast as the shards go.
    let throttle: Double?
    let logger: Logger

    /// Records per batch between SQLite shards: big enough that SQLite, not the round trips,
    /// sets the pace.
    static let batchRecords = 1000
    /// Records per batch between PostgreSQL shards, each batch one transaction on the source
    /// holding its records' locks.
    static let postgresBatchRecords = 500
    /// How many times a drain plan looks for records that reached its shards while it ran.
    static let leftoverRounds = 10

    private func recordsPerBatch(postgres: Bool) -> Int {
        let most = postgres ? Self.postgresBatchRecords : Self.batchRecords
        guard let throttle else { return most }
        // A throttle is within RebalanceThrottle.range: the quotient fits an Int.
        return min(most, max(1, Int(throttle / 8)))
    }

    /// How many batches one round of the job takes from the plan: several, so that lanes
    /// (``ShardMover/lanes``) rarely start together; one under a throttle, which paces the job
    /// between rounds and moves one batch at a time.
    private var batchesPerRound: Int { throttle == nil ? 8 : 1 }

    func run(_ control: JobRunner.Control) async {
        let started = ContinuousClock.now
        var rowsThisRun = 0
        var lastLog = started
        var finalState = RebalanceState.done
        var leftoverRounds = 0
        let store = self.store
        let planID = self.planID
        var unrecordedMilliseconds: Int64 = 0
        var lastTimeRecord = started
        func recordRunningTime() async throws {
            let milliseconds = unrecordedMilliseconds
            guard milliseconds > 0 else { return }
            try await BlockingWork.run { try store.addRunningTime(ofPlan: planID, milliseconds: milliseconds) }
            unrecordedMilliseconds = 0
            lastTimeRecord = ContinuousClock.now
        }
        do {
            logger.notice(
                "rebalance started",
                metadata: ["plan": "\(planID)", "throttle": "\(throttle.map { "\($0) rows/s" } ?? "none")"]
            )
            while true {
                if let stop = control.stopRequest {
                    finalState = stop
                    break
                }
                if let state = try await stateStoppingThePlan() {
                    finalState = state
                    break
                }
                let postgres = registry().shards.first?.backendKind == .postgres
                let limit = recordsPerBatch(postgres: postgres) * batchesPerRound
                guard
                    let batch = try await BlockingWork.run({ try store.nextPendingMoves(ofPlan: planID, limit: limit) })
                else {
                    guard leftoverRounds < Self.leftoverRounds else { break }
                    leftoverRounds += 1
                    let leftovers = try await drainLeftovers()
                    guard try await BlockingWork.run({ try store.appendMoves(ofPlan: planID, leftovers) }) > 0 else {
                        break
                    }
                    logger.notice(
                        "rebalance found records that reached a drained shard meanwhile",
                        metadata: ["plan": "\(planID)", "records": "\(leftovers.count)"]
                    )
                    continue
                }
                let batchStarted = ContinuousClock.now
                rowsThisRun += try await moveBatch(batch, control: control)
                if let throttle {
                    // Paused in short steps, so that a stop is not held up by the throttle.
                    let due = started + .milliseconds(Int64(Double(rowsThisRun) / throttle * 1000))
                    while due > ContinuousClock.now, control.stopRequest == nil {
                        // A sleep cut short ends the pause early; the loop then checks for a stop.
                        try? await Task.sleep(for: min(.milliseconds(100), due - ContinuousClock.now))
                    }
                }
                // The time a batch took, its throttling pause included: the rate is wall-clock.
                // Recorded once a second, not with every batch's own durable commit.
                unrecordedMilliseconds += (ContinuousClock.now - batchStarted).wholeMilliseconds
                if ContinuousClock.now - lastTimeRecord >= .seconds(1) {
                    try await recordRunningTime()
                }
                // For the log only: a progress line is skipped when the catalog does not answer.
                if ContinuousClock.now - lastLog > .seconds(5),
                    let status = try? await BlockingWork.run({ try store.planStatus(planID) })
                {
                    lastLog = ContinuousClock.now
                    logger.info("rebalance progress", metadata: Self.metadata(status))
                }
            }
            try await recordRunningTime()
            if finalState == .done {
                // Done only if every record could move and a drain left nothing behind.
                let residue = try await drainResidue()
                let verdict = try await BlockingWork.runLong {
                    try RebalanceVerdict(planID: planID, store: store, residue: residue)
                }
                for failure in verdict.failures {
                    try await BlockingWork.run { try store.appendPlanError(planID, failure) }
                }
                finalState = verdict.state
            }
        } catch {
            finalState = .failed
            logger.error("rebalance stopped by an error", metadata: ["plan": "\(planID)", "error": "\(error)"])
            do {
                try await BlockingWork.run { try store.appendPlanError(planID, "\(error)") }
            } catch let recording {
                logger.error(
                    "the plan's error could not be recorded",
                    metadata: ["plan": "\(planID)", "error": "\(recording)"]
                )
            }
        }
        let state = finalState
        do {
            try await BlockingWork.run { try store.setPlanState(planID, state) }
        } catch {
            // The plan stays `running` in the catalog, and the next start resumes it from its
            // persisted progress.
            logger.error(
                "the plan's end could not be recorded; the next start resumes it",
                metadata: ["plan": "\(planID)", "state": "\(state.rawValue)", "error": "\(error)"]
            )
        }
        await lease.release()
        // For the log only.
        if let status = try? await BlockingWork.run({ try store.planStatus(planID) }) {
            logger.notice("rebalance \(state.rawValue)", metadata: Self.metadata(status))
        }
    }

    /// Moves one batch. A shard that does not serve stops the job. Returns the rows moved.
    private func moveBatch(
        _ batch: (from: String, to: String, records: [Int64]),
        control: JobRunner.Control
    ) async throws -> Int {
        let registry = self.registry()
        let store = self.store
        let planID = self.planID
        guard let source = registry.shard(named: batch.from),
            let target = registry.shard(named: batch.to)
        else {
            let missing = registry.shard(named: batch.from) == nil ? batch.from : batch.to
            try await BlockingWork.run {
                try store.skipMoves(
                    ofPlan: planID,
                    batch.records.map { ($0, "shard '\(missing)' is no longer known") }
                )
            }
            return 0
        }
        for shard in [source, target] where shard.health != .ok {
            throw CollegeDBError(.shardUnavailable, "shard '\(shard.name)' is \(shard.health.rawValue)")
        }
        let mover: any ShardMover
        do {
            mover = try source.mover(to: target, context: moveContext)
        } catch let error as CollegeDBError where error.code == .unsupportedOnBackend {
            try await BlockingWork.run {
                try store.skipMoves(ofPlan: planID, batch.records.map { ($0, error.message) })
            }
            return 0
        }
        try await prepareTarget(target)
        try await mover.findKeyTexts(of: batch.records, in: keyTexts)
        return try await moveInLanes(
            batch.records,
            by: mover,
            postgres: source.backendKind == .postgres,
            control: control
        )
    }

    /// Moves `records` with `mover` in batches of at most ``recordsPerBatch(postgres:)``, on the
    /// mover's ``ShardMover/lanes`` (one under a throttle), each taking the next batch as soon
    /// as its own is done (so that they rarely wait for the same server at the same time), until
    /// none is left, a stop is requested, the plan is no longer running in the catalog (another
    /// daemon cancelled it; read before each batch) or a lane meets an error; returns the rows
    /// moved. Every lane ends its own batch before the first error is thrown, so that no batch
    /// is left half done.
    private func moveInLanes(
        _ records: [Int64],
        by mover: any ShardMover,
        postgres: Bool,
        control: JobRunner.Control
    ) async throws -> Int {
        let size = recordsPerBatch(postgres: postgres)
        let batches = stride(from: 0, to: records.count, by: size).map {
            Array(records[$0..<min($0 + size, records.count)])
        }
        let lanesState = LanesState()
        let outcomes = await withTaskGroup(of: (rows: Int, error: (any Error)?).self) { group in
            for _ in 0..<min(throttle == nil ? mover.lanes : 1, batches.count) {
                group.addTask {
                    var rows = 0
                    while !lanesState.failed.load(ordering: .acquiring), control.stopRequest == nil {
                        let index = lanesState.nextBatch.wrappingAdd(1, ordering: .relaxed).oldValue
                        guard index < batches.count else { break }
                        do {
                            // The job's loop reads the state again and ends in it.
                            guard try await stateStoppingThePlan() == nil else { break }
                            rows += try await move(batches[index], by: mover)
                        } catch {
                            lanesState.failed.store(true, ordering: .releasing)
                            return (rows, error)
                        }
                    }
                    return (rows, nil)
                }
            }
            var outcomes: [(rows: Int, error: (any Error)?)] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes
        }
        if let error = outcomes.lazy.compactMap({ $0.error }).first { throw error }
        return outcomes.reduce(0) { $0 + $1.rows }
    }

    /// The plan's state in the catalog when it is no longer running (another daemon of a shared
    /// catalog cancels a plan there), else nil.
    private func stateStoppingThePlan() async throws -> RebalanceState? {
        let (store, planID) = (self.store, self.planID)
        let state = try await BlockingWork.run { try store.planStatus(planID)?.state }
        return state == .running ? nil : state
    }

    /// What the lanes of ``moveInLanes(_:by:postgres:control:)`` share: the next batch to take,
    /// and whether a lane failed (then no lane takes another).
    private final class LanesState: Sendable {
        let nextBatch = Atomic(0)
        let failed = Atomic(false)
    }

    /// Moves `records` with `mover` as one batch, holding them, and returns the rows moved;
    /// when the batch fails as a whole (a row the target refuses), its records move one by one,
    /// so that only the failing ones are skipped. Skips are persisted group by group; an error
    /// of a shard, the disk or the catalog stops the job.
    private func move(_ records: [Int64], by mover: any ShardMover) async throws -> Int {
        let (store, planID, keyTexts) = (self.store, self.planID, self.keyTexts)
        var rows = 0
        var pending = [records]
        var singly = false
        while let group = pending.popLast() {
            do {
                let outcome = try await locks.moving(all: group) {
                    try await mover.move(planID: planID, records: group, keyTexts: keyTexts)
                }
                rows += outcome.rows
                try await BlockingWork.run { try store.skipMoves(ofPlan: planID, outcome.skipped) }
            } catch {
                if let stop = mover.stoppingError(error) { throw stop }
                guard singly || group.count == 1 else {
                    singly = true
                    pending = group.map { [$0] }
                    continue
                }
                let reason = RebalanceVerdict.copyFailure + mover.describe(error)
                try await BlockingWork.run {
                    try store.skipMoves(ofPlan: planID, group.map { ($0, reason) })
                    for record in group { try store.appendPlanError(planID, "record \(record): \(reason)") }
                }
            }
        }
        return rows
    }

    static func metadata(_ status: RebalanceStatus) -> Logger.Metadata {
        [
            "plan": "\(status.planID)", "state": "\(status.state.rawValue)",
            "records": "\(status.recordsFinished)/\(status.records)",
            "rows": "\(status.rowsMoved)", "skipped": "\(status.skipped)",
            "rowsPerSecond": "\(status.wholeRowsPerSecond)",
        ]
    }
}
