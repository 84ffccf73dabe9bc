import Foundation
import GRDB

/// Rebalancing: analyze how records spread, plan the fewest moves, and run the plan as a
/// background job that survives restarts and crashes and never leaves a record split.
extension CollegeDB {
    static let rebalanceJobKind = "rebalance"

    /// Per shard: records, rows of the owning tables and size; the mean, max/mean, and whether
    /// that is within `tolerance` (default 1.1). The mean counts the shards that take new keys.
    public func analyzeShardDistribution(tolerance: Double = 1.1) async throws -> ShardDistribution {
        guard tolerance >= 1, tolerance.isFinite else { throw CollegeDBError.invalidParams("tolerance: must be >= 1") }
        let shards = coordinator.registry.shards
        let store = catalog
        let ownership = await coordinator.configuration.ownership
        let draining = coordinator.draining.withLock { $0 }
        var sizes: [String: Int64] = [:]
        // A shard that does not answer has no size (null), and the others are still analyzed.
        for shard in shards { sizes[shard.name] = try? await shard.measureSize() }
        let measured = sizes
        return try await BlockingWork.runLong {
            let counts = try store.recordCounts()
            return ShardDistribution(
                shards: shards.map { shard in
                    ShardDistribution.Shard(
                        shard: shard.name,
                        records: counts[shard.name] ?? 0,
                        // null for a shard that does not answer, as its size.
                        rows: try? shard.ownedRowCount(ownership: ownership),
                        sizeBytes: measured[shard.name],
                        draining: draining.contains(shard.name)
                    )
                },
                tolerance: tolerance
            )
        }
    }

    /// Plans and persists the moves that rebalance the shards, and returns the plan's summary.
    ///
    /// Under `hash` (the write strategy), each record's target is its rendezvous choice over
    /// the shards that take new keys: adding a shard to N moves about 1/(N+1) of the records,
    /// all onto it. Under the other strategies, records move from the most to the least loaded
    /// shard until the most loaded is within `tolerance` of the mean. Every record on a `drain`
    /// shard moves, and from now on those shards take no new keys (until the plan is cancelled
    /// or the shard is unregistered). At most `maxMoves` moves. The summary names the rows
    /// whose primary keys are already taken on their targets (``RebalancePlanSummary/conflicts``).
    public func generateRebalancePlan(
        maxMoves: Int? = nil,
        drain: [String] = [],
        tolerance: Double = 1.1
    ) async throws -> RebalancePlanSummary {
        guard tolerance >= 1, tolerance.isFinite else { throw CollegeDBError.invalidParams("tolerance: must be >= 1") }
        guard (maxMoves ?? 0) >= 0 else { throw CollegeDBError.invalidParams("maxMoves: must be >= 0") }
        let planned = try await planMoves(maxMoves: maxMoves, drain: drain, tolerance: tolerance)
        var summary = try await persist(planned, drain: drain, tolerance: tolerance, automatic: false)
        do {
            summary.conflicts = try await rebalanceDryRun(planID: summary.planID).conflicts
        } catch {
            // The plan stands: its dry run may look again once the shard answers.
            logger.warning(
                "the new plan's key conflicts could not be looked for",
                metadata: ["plan": "\(summary.planID)", "error": "\(error)"]
            )
        }
        return summary
    }

    /// The moves a plan would hold, and the rows found without a mapping; changes nothing.
    func planMoves(
        maxMoves: Int?,
        drain: [String],
        tolerance: Double
    ) async throws -> (moves: [RebalancePlanner.Move], unmappedRows: Int) {
        let registry = coordinator.registry
        for shard in drain { _ = try registry.database(named: shard) }
        let shards = try Self.movableShards(registry.shards)
        let drained = Set(drain).union(coordinator.draining.withLock { $0 })
        let receivers = try await coordinator.eligibleCandidates().filter { !drained.contains($0.name) }
        guard !receivers.isEmpty else {
            throw CollegeDBError.invalidParams("drain: no shard would be left to take the records")
        }
        let strategy = coordinator.policy.strategy.write
        let store = catalog
        let ownership = await coordinator.configuration.ownership
        let limit = maxMoves ?? Int.max
        return try await BlockingWork.runLong {
            guard strategy != .hash else {
                return try Self.planByRendezvous(
                    shards: shards,
                    drained: drained,
                    receivers: receivers,
                    store: store,
                    ownership: ownership,
                    limit: limit
                )
            }
            var moves: [RebalancePlanner.Move] = []
            let pairs = RebalancePlanner.countMoves(
                counts: try store.recordCounts(),
                receivers: receivers.map(\.name),
                drained: drained,
                tolerance: tolerance,
                maxMoves: limit
            )
            for (from, pairsFrom) in Dictionary(grouping: pairs, by: \.from) {
                var targets = pairsFrom.flatMap { Array(repeating: $0.to, count: $0.records) }[...]
                try store.forEachRecord(onShard: from) { record, _ in
                    guard let target = targets.popFirst() else { return }
                    moves.append(RebalancePlanner.Move(record: record, from: from, to: target))
                }
            }
            return (moves, 0)
        }
    }

    /// Persists planned moves as a new plan (its drained shards take no new keys from now on)
    /// and returns the plan's summary.
    func persist(
        _ planned: (moves: [RebalancePlanner.Move], unmappedRows: Int),
        drain: [String],
        tolerance: Double,
        automatic: Bool
    ) async throws -> RebalancePlanSummary {
        let strategy = coordinator.policy.strategy.write
        let store = catalog
        let planID = try await BlockingWork.runLong {
            try store.createPlan(
                strategy: strategy.rawValue,
                drain: drain,
                tolerance: tolerance,
                moves: planned.moves,
                unmappedRows: planned.unmappedRows,
                automatic: automatic
            )
        }
        coordinator.draining.withLock { $0.formUnion(drain) }
        let summary = try await BlockingWork.run { try store.planSummary(planID) }
        logger.notice(
            "rebalance planned",
            metadata: [
                "plan": "\(planID)", "moves": "\(summary.moves)", "drain": "\(drain.joined(separator: ","))",
                "unmappedRows": "\(summary.unmappedRows)", "automatic": "\(automatic)",
            ]
        )
        return summary
    }

    /// Each record's rendezvous target. With plain keys the store knows each record's key;
    /// with digests it does not, so every shard's owning tables are read once and each row's
    /// key digested and looked up. Records on a drained shard whose key was never seen (a
    /// mapping without rows) move by the rendezvous choice of their stored key's digest.
    private static func planByRendezvous(
        shards: [any ShardBackend],
        drained: Set<String>,
        receivers: [ShardCandidate],
        store: any MappingCatalog,
        ownership: [String: String],
        limit: Int
    ) throws -> (moves: [RebalancePlanner.Move], unmappedRows: Int) {
        var moves: [RebalancePlanner.Move] = []
        var planned = Set<Int64>()
        var unmappedRows = 0
        func consider(record: Int64, key: String, from: String) {
            guard moves.count < limit, planned.insert(record).inserted,
                let target = RebalancePlanner.hashTarget(key: key, from: from, candidates: receivers)
            else { return }
            moves.append(RebalancePlanner.Move(record: record, from: from, to: target))
        }
        let codec = store.keyCodec
        if codec.hashesKeys {
            for shard in shards where shard.health == .ok {
                let tables = try shard.owningTables(ownership: ownership)
                var pending: [String] = []
                func resolve() throws {
                    let records = try store.records(forStoredKeys: pending.map(codec.storedValue(for:)))
                    for (key, record) in zip(pending, records) {
                        guard let record else {
                            unmappedRows += 1
                            continue
                        }
                        if record.shard == shard.name { consider(record: record.id, key: key, from: shard.name) }
                    }
                    pending.removeAll(keepingCapacity: true)
                }
                try shard.forEachOwnerKey(tables: tables, distinct: true) { key in
                    pending.append(key)
                    if pending.count == 1000 { try resolve() }
                }
                try resolve()
            }
        }
        for shard in shards where !codec.hashesKeys || drained.contains(shard.name) {
            try store.forEachRecord(onShard: shard.name) { record, key in
                guard let key else { return }
                consider(record: record, key: codec.displayed(key), from: shard.name)
            }
        }
        return (moves, unmappedRows)
    }

    /// The shards as rebalancing reads them: all SQLite or all PostgreSQL, since rows move
    /// between two shards of one backend only.
    /// - Throws: `UNSUPPORTED_ON_BACKEND` for a fleet of both.
    private static func movableShards(_ shards: [any ShardBackend]) throws -> [any ShardBackend] {
        guard Set(shards.map(\.backendKind)).count <= 1 else {
            throw CollegeDBError(
                .unsupportedOnBackend,
                "rebalancing moves rows between two SQLite or two PostgreSQL shards; this daemon has both kinds"
            )
        }
        return shards
    }

    /// The rows of owning tables each of a plan's drained shards still holds, counted on the
    /// shard; shards with none are left out.
    func drainResidue(ofPlan planID: Int64) async throws -> [(shard: String, rows: Int64)] {
        let catalog = self.catalog
        let drained = try await BlockingWork.run { try catalog.drainedShards(ofPlan: planID) }
        guard !drained.isEmpty else { return [] }
        let ownership = await coordinator.configuration.ownership
        let registry = coordinator.registry
        return try await BlockingWork.runLong {
            try drained.compactMap { name in
                guard let shard = registry.shard(named: name) else { return nil }
                let rows = try shard.ownedRowCount(ownership: ownership)
                return rows > 0 ? (shard: name, rows: rows) : nil
            }
        }
    }

    /// Records left on a plan's drained shards, each as a move to where a new key would go:
    /// its rendezvous choice under `hash`, else the receivers in turn.
    func drainLeftovers(ofPlan planID: Int64) async throws -> [RebalancePlanner.Move] {
        let catalog = self.catalog
        let drained = try await BlockingWork.run { try catalog.drainedShards(ofPlan: planID) }
        guard !drained.isEmpty else { return [] }
        let receivers = try await coordinator.eligibleCandidates().filter { !drained.contains($0.name) }
        guard !receivers.isEmpty else { return [] }
        let hashing = coordinator.policy.strategy.write == .hash
        return try await BlockingWork.runLong {
            var moves: [RebalancePlanner.Move] = []
            for shard in drained {
                try catalog.forEachRecord(onShard: shard) { record, key in
                    let chosen = key.flatMap { key in
                        hashing
                            ? RebalancePlanner.hashTarget(
                                key: catalog.keyCodec.displayed(key),
                                from: shard,
                                candidates: receivers
                            ) : nil
                    }
                    let target = chosen ?? receivers[moves.count % receivers.count].name
                    moves.append(RebalancePlanner.Move(record: record, from: shard, to: target))
                }
            }
            return moves
        }
    }

    /// One page of a plan's moves, in record order, after `cursor`.
    public func listRebalanceMoves(
        planID: Int64,
        limit: Int = 100,
        cursor: String? = nil
    ) async throws -> (
        moves: [RebalanceMove], cursor: String?
    ) {
        guard limit >= 1 else { throw CollegeDBError.invalidParams("limit: must be >= 1") }
        let after = try cursor.map { text throws(CollegeDBError) in
            guard let record = Int64(text) else {
                throw CollegeDBError.invalidParams("cursor: not a cursor from this method")
            }
            return record
        }
        let store = catalog
        let page = try await BlockingWork.run {
            try store.moves(ofPlan: planID, limit: min(limit, 10_000), after: after)
        }
        return (page.moves, page.next.map(String.init))
    }

    /// Starts running a plan in the background and returns at once with its status. A plan
    /// that was cancelled, failed or paused resumes with its pending moves; a done plan is
    /// left as it is. `rowsPerSecond` throttles the job. With `dryRun`, nothing changes: the
    /// answer says what would move now (``RebalanceDryRun``).
    /// - Throws: `MIGRATION_IN_PROGRESS` while another plan runs; `PLAN_NOT_FOUND`.
    public func executeRebalance(planID: Int64, rowsPerSecond: Double? = nil) async throws -> RebalanceStatus {
        if let throttle = rowsPerSecond, !RebalanceThrottle.isValid(throttle) {
            throw CollegeDBError.invalidParams("rowsPerSecond: \(RebalanceThrottle.requirement)")
        }
        let store = catalog
        guard let status = try await BlockingWork.run({ try store.planStatus(planID) }) else {
            throw MappingStore.planNotFound(planID)
        }
        if let running = jobs.runningJob(kind: Self.rebalanceJobKind) {
            guard running == planID else {
                throw CollegeDBError(
                    .migrationInProgress,
                    "rebalance plan \(running) is running; cancel it or wait for it to finish"
                )
            }
            return status
        }
        guard status.state != .done else { return status }
        guard try await startRebalanceJob(planID: planID, throttle: rowsPerSecond, previous: status.state) else {
            // Another daemon of the shared catalog runs a plan: perhaps this one.
            if status.state == .running { return status }
            throw CollegeDBError(
                .migrationInProgress,
                "another rebalance plan runs (started meanwhile, or by another daemon of the catalog)"
            )
        }
        try await refreshDraining()
        return try await BlockingWork.run { try store.planStatus(planID)! }
    }

    /// What running a plan would do now, changing nothing: the records still on their source
    /// and their rows, the moves that would be skipped, and the rows whose primary key is
    /// already taken on their target.
    public func rebalanceDryRun(planID: Int64) async throws -> RebalanceDryRun {
        let store = catalog
        let registry = coordinator.registry
        let ownership = await coordinator.configuration.ownership
        return try await BlockingWork.runLong {
            guard try store.planStatus(planID) != nil else { throw MappingStore.planNotFound(planID) }
            var result = RebalanceDryRun(planID: planID, records: 0, rows: 0, skipped: 0, conflicts: [])
            var byPair: [ShardPair: [Int64]] = [:]
            var cursor: Int64?
            repeat {
                let page = try store.moves(ofPlan: planID, limit: 10_000, after: cursor)
                let pending = page.moves.filter { $0.state == "pending" }
                let current = try store.shards(ofRecords: pending.map(\.record))
                for move in pending {
                    if current[move.record] == move.from {
                        byPair[ShardPair(from: move.from, to: move.to), default: []].append(move.record)
                    } else {
                        result.skipped += 1
                    }
                }
                cursor = page.next
            } while cursor != nil
            var conflicts: [String: RebalanceDryRun.KeyConflict] = [:]
            for (pair, records) in byPair.sorted(by: { ($0.key.from, $0.key.to) < ($1.key.from, $1.key.to) }) {
                guard let shard = registry.shard(named: pair.from) else {
                    result.skipped += records.count
                    continue
                }
                let tables = try shard.owningTables(ownership: ownership)
                let keys = try store.storedKeys(ofRecords: records)
                let texts = Set(
                    try KeyTextCache(store: store, planID: planID).texts(of: keys.keys, on: shard, tables: tables)
                        .values
                )
                result.records += records.count
                result.rows += try shard.ownedRowCount(ofKeyTexts: texts, tables: tables)
                guard let target = registry.shard(named: pair.to) else { continue }
                for (table, column) in tables {
                    guard let moving = try shard.primaryKeys(ofKeyTexts: texts, table: table, column: column) else {
                        continue
                    }
                    let taken = try target.existingPrimaryKeys(moving.keys, table: table, keyColumn: moving.column)
                    guard taken > 0 else { continue }
                    conflicts[table, default: .init(table: table, column: moving.column, rows: 0)].rows += taken
                }
            }
            result.conflicts = conflicts.values.sorted { $0.table < $1.table }
            return result
        }
    }

    /// The shards a move goes from and to.
    private struct ShardPair: Hashable {
        var from: String
        var to: String
    }

    /// A plan's status, or the newest plan's when `planID` is nil; nil when there is no plan.
    public func rebalanceStatus(planID: Int64? = nil) async throws -> RebalanceStatus? {
        let store = catalog
        return try await BlockingWork.run { try store.planStatus(planID) }
    }

    /// The status of the plan that runs now, if one does.
    public func runningRebalance() async -> RebalanceStatus? {
        guard let planID = jobs.runningJob(kind: Self.rebalanceJobKind) else { return nil }
        // For the status line only: a catalog that does not answer shows no plan.
        return try? await rebalanceStatus(planID: planID)
    }

    /// Stops a plan after the batches under way (every record stays whole on one shard) and
    /// returns its status; its drained shards take new keys again. A done plan is left done.
    public func cancelRebalance(planID: Int64) async throws -> RebalanceStatus {
        let store = catalog
        guard let status = try await BlockingWork.run({ try store.planStatus(planID) }) else {
            throw MappingStore.planNotFound(planID)
        }
        guard status.state != .done else { return status }
        if !(await jobs.stop(kind: Self.rebalanceJobKind, id: planID, in: .cancelled)) {
            try await BlockingWork.run { try store.setPlanState(planID, .cancelled) }
        }
        try await refreshDraining()
        logger.notice("rebalance cancelled", metadata: ["plan": "\(planID)"])
        return try await BlockingWork.run { try store.planStatus(planID)! }
    }

    /// Reads the drained shards again from the store.
    private func refreshDraining() async throws {
        let store = catalog
        let draining = try await BlockingWork.run { try store.drainingShards() }
        coordinator.draining.withLock { $0 = draining }
    }

    /// Resumes the plans a stop or a crash left running or paused; runs when the engine opens.
    /// With a shared catalog, a plan another daemon runs now is left to it.
    func resumeRebalancing() async throws {
        let store = catalog
        for planID in try await BlockingWork.run({ try store.interruptedPlans() }) {
            let throttle = try await BlockingWork.run { try store.planStatus(planID)?.throttle }
            guard try await startRebalanceJob(planID: planID, throttle: throttle, previous: .paused) else {
                logger.notice("another daemon of the catalog runs a rebalance", metadata: ["plan": "\(planID)"])
                return
            }
            logger.notice("resuming an interrupted rebalance", metadata: ["plan": "\(planID)"])
        }
    }

    /// Takes the right to run plans, marks the plan running and starts its job; false (and
    /// the plan left in its `previous` state) when a rebalance job runs already, here or (with
    /// a shared catalog) on another daemon.
    func startRebalanceJob(planID: Int64, throttle: Double?, previous: RebalanceState) async throws -> Bool {
        // Out of range only from a library caller or a damaged store: then unthrottled.
        let throttle = throttle.flatMap { RebalanceThrottle.isValid($0) ? $0 : nil }
        let coordinator = self.coordinator
        let store = catalog
        guard jobs.runningJob(kind: Self.rebalanceJobKind) == nil,
            let lease = try await store.acquireRebalanceLease()
        else { return false }
        let ownership = await coordinator.configuration.ownership
        let keyTexts = KeyTextCache(store: store, planID: planID)
        let job = RebalanceJob(
            planID: planID,
            store: store,
            registry: { coordinator.registry },
            locks: coordinator.locks,
            moveContext: MoveContext(catalog: store, ownership: ownership, logger: logger),
            keyTexts: keyTexts,
            prepareTarget: { [self] target in try await self.catchUpSchema(of: target) },
            drainLeftovers: { [self] in try await self.drainLeftovers(ofPlan: planID) },
            drainResidue: { [self] in try await self.drainResidue(ofPlan: planID) },
            lease: lease,
            throttle: throttle,
            logger: logger
        )
        do {
            try await BlockingWork.run { try store.setPlanState(planID, .running, rowsPerSecond: .some(throttle)) }
        } catch {
            await lease.release()
            throw error
        }
        guard jobs.start(kind: Self.rebalanceJobKind, id: planID, { control in await job.run(control) }) else {
            await lease.release()
            try await BlockingWork.run { try store.setPlanState(planID, previous) }
            return false
        }
        return true
    }
}
