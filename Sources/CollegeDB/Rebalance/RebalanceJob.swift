import Logging

/// Runs a plan's pending moves in batches until none is left, it is asked to stop, or a shard
/// fails. Each batch holds only its own records, so every other key is served meanwhile; its
/// progress is persisted with its flip, so a restart resumes exactly where it was.
struct RebalanceJob: Sendable {
    let planID: Int64
    let store: MappingStore
    let registry: @Sendable () -> ShardRegistry
    let locks: RecordLocks
    let mover: BatchMover
    /// Rows per second at most; nil for as fast as the shards go.
    let throttle: Double?
    let logger: Logger

    /// Records per batch: big enough that SQLite, not the round trips, sets the pace.
    static let batchRecords = 1000

    private var recordsPerBatch: Int {
        guard let throttle else { return Self.batchRecords }
        return min(Self.batchRecords, max(1, Int(throttle / 8)))
    }

    func run(_ control: JobRunner.Control) async {
        let started = ContinuousClock.now
        var rowsThisRun = 0
        var lastLog = started
        var finalState = RebalanceState.done
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
                guard
                    let batch = try await BlockingWork.run({
                        try store.nextPendingMoves(ofPlan: planID, limit: recordsPerBatch)
                    })
                else { break }
                let batchStarted = ContinuousClock.now
                rowsThisRun += try await moveBatch(batch)
                if let throttle {
                    // Paused in short steps, so that a stop is not held up by the throttle.
                    let due = started + .milliseconds(Int64(Double(rowsThisRun) / throttle * 1000))
                    while due > ContinuousClock.now, control.stopRequest == nil {
                        try? await Task.sleep(for: min(.milliseconds(100), due - ContinuousClock.now))
                    }
                }
                // The time a batch took, its throttling pause included: the rate is wall-clock.
                try await BlockingWork.run {
                    try store.setPlanState(
                        planID,
                        .running,
                        runningMilliseconds: (ContinuousClock.now - batchStarted).milliseconds
                    )
                }
                if ContinuousClock.now - lastLog > .seconds(5),
                    let status = try? await BlockingWork.run({ try store.planStatus(planID) })
                {
                    lastLog = ContinuousClock.now
                    logger.info("rebalance progress", metadata: Self.metadata(status))
                }
            }
        } catch {
            finalState = .failed
            logger.error("rebalance stopped by an error", metadata: ["plan": "\(planID)", "error": "\(error)"])
            try? await BlockingWork.run { try store.appendPlanError(planID, "\(error)") }
        }
        let state = finalState
        try? await BlockingWork.run { try store.setPlanState(planID, state) }
        if let status = try? await BlockingWork.run({ try store.planStatus(planID) }) {
            logger.notice("rebalance \(state.rawValue)", metadata: Self.metadata(status))
        }
    }

    /// Moves one batch, holding its records; when the batch fails as a whole (a row that cannot
    /// be copied), its records are moved one by one so that only the failing ones are skipped.
    /// A shard that does not serve stops the job. Returns the rows moved.
    private func moveBatch(_ batch: (from: String, to: String, records: [Int64])) async throws -> Int {
        let registry = self.registry()
        guard let source = try? registry.database(named: batch.from).sqliteDatabase(for: "rebalancing"),
            let target = try? registry.database(named: batch.to).sqliteDatabase(for: "rebalancing")
        else {
            let missing = (try? registry.database(named: batch.from)) == nil ? batch.from : batch.to
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
        var rows = 0
        var pending = [batch.records]
        var singly = false
        while let records = pending.popLast() {
            do {
                let outcome = try await locks.moving(all: records) {
                    try await BlockingWork.runBackground {
                        try mover.move(planID: planID, records: records, from: source, to: target)
                    }
                }
                rows += outcome.rows
                try await BlockingWork.run { try store.skipMoves(ofPlan: planID, outcome.skipped) }
            } catch let error as CollegeDBError where error.code == .shardUnavailable || error.code == .storageFull {
                throw error
            } catch {
                guard !singly, records.count > 1 else {
                    let reason = "its rows could not be copied: \(error)"
                    try await BlockingWork.run {
                        try store.skipMoves(ofPlan: planID, records.map { ($0, reason) })
                        try store.appendPlanError(planID, "record \(records[0]): \(reason)")
                    }
                    continue
                }
                singly = true
                pending = records.map { [$0] }
            }
        }
        return rows
    }

    static func metadata(_ status: RebalanceStatus) -> Logger.Metadata {
        [
            "plan": "\(status.planID)", "state": "\(status.state.rawValue)",
            "records": "\(status.recordsMoved + status.skipped)/\(status.records)",
            "rows": "\(status.rowsMoved)", "skipped": "\(status.skipped)",
            "rowsPerSecond": "\(Int(status.rowsPerSecond))",
        ]
    }
}

extension Duration {
    /// The duration in whole milliseconds.
    var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
