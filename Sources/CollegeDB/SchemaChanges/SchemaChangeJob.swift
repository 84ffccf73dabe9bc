import Logging

/// Applies recorded schema changes to every shard, one change at a time in the order recorded:
/// a change that is paused (canary) or failed holds every later one back. Each shard runs a
/// change in one transaction with its ledger row (``ShardSchemaLedger``), so a pass cut short
/// by a stop or a crash resumes where it was and never applies a change twice; shards
/// registered while a pass runs are applied in the next round of the same pass.
struct SchemaChangeJob: Sendable {
    let catalog: any MappingCatalog
    let registry: @Sendable () -> ShardRegistry
    let limits: QueryLimits
    let logger: Logger
    /// Held by a backup: a shard's change and its catalog note land wholly before or after it.
    let pause: MovePause

    func run(_ control: JobRunner.Control) async {
        let catalog = self.catalog
        do {
            while control.stopRequest == nil {
                let changes = try await BlockingWork.run { try catalog.schemaChanges() }
                guard let change = changes.first(where: { $0.state != .done }), change.state == .running else { return }
                guard let state = try await apply(change, control) else { return }
                let written = try await BlockingWork.run {
                    try catalog.setSchemaChangeState(
                        change.id,
                        state.state,
                        failures: state.failures,
                        ifAttempt: change.attempt
                    )
                }
                // A call set the change running again (a retry, a new canary) during the pass:
                // the next pass reads it as it is now.
                guard written else { continue }
                logger.notice(
                    "schema change \(state.state.rawValue)",
                    metadata: [
                        "change": "\(change.name)",
                        "failures": "\(state.failures.map { "\($0.shard): \($0.error)" }.joined(separator: "; "))",
                    ]
                )
                guard state.state == .done else { return }
            }
        } catch {
            // The catalog failed: the change stays running and the next start goes on with it.
            logger.error("schema changes stopped by an error", metadata: ["error": "\(error)"])
        }
    }

    /// Applies `change` to every shard that lacks it; returns the state it ends in with its
    /// failures, or nil when asked to stop first (it stays running).
    private func apply(
        _ change: SchemaChange,
        _ control: JobRunner.Control
    ) async throws -> (state: SchemaChangeState, failures: [SchemaChangeFailure])? {
        let catalog = self.catalog
        var failures: [SchemaChangeFailure] = []
        var failed = Set<String>()
        while true {
            let have = try await BlockingWork.run { try catalog.shards(withSchemaChange: change.id) }
            let shards = registry().shards
            let lacking = shards.filter { !have.contains($0.name) && !failed.contains($0.name) }
            guard !lacking.isEmpty else { return (failures.isEmpty ? .done : .failed, failures) }
            // Shards unregistered since they got the change do not count towards a canary.
            var applied = shards.count { have.contains($0.name) }
            for shard in lacking {
                guard control.stopRequest == nil else { return nil }
                // Unregistered during the pass: no longer the change's to reach.
                guard registry().shard(named: shard.name) === shard else { continue }
                if let canary = change.canary, applied >= canary { return (.paused, failures) }
                do {
                    try await Self.apply(change, to: shard, catalog: catalog, limits: limits, pause: pause)
                    applied += 1
                } catch let error as CollegeDBError where error.code == .mappingStoreFailed {
                    throw error
                } catch {
                    failures.append(SchemaChangeFailure(shard: shard.name, error: Self.describe(error)))
                    failed.insert(shard.name)
                }
            }
        }
    }

    /// Applies `change` to `shard` (unless its ledger has it) and notes in the catalog that the
    /// shard has it, both outside any backup (`pause`), so that a backup's shard and catalog
    /// copies agree on it.
    /// - Throws: `SHARD_UNAVAILABLE` for a shard that does not serve; the shard's error.
    static func apply(
        _ change: SchemaChange,
        to shard: any ShardBackend,
        catalog: any MappingCatalog,
        limits: QueryLimits,
        pause: MovePause
    ) async throws {
        if let reason = shard.unavailableReason {
            throw CollegeDBError(.shardUnavailable, "shard '\(shard.name)' is unavailable: \(reason)")
        }
        try await pause.duringMove {
            _ = try await shard.applySchemaChange(name: change.name, sql: change.sql, limits: limits)
            try await BlockingWork.run { try catalog.markSchemaChangeApplied(change.id, shard: shard.name) }
        }
    }

    /// The error as a failure shows it.
    static func describe(_ error: any Error) -> String {
        (error as? CollegeDBError)?.message ?? "\(error)"
    }
}
