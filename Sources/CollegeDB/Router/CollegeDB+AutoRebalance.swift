import Foundation

/// Automatic rebalancing: one check of the distribution against the configured
/// ``AutoRebalancePolicy``, planning and starting a throttled job when it has left the tolerance.
extension CollegeDB {
    /// Checks the distribution against the configured ``AutoRebalancePolicy`` and acts on it:
    /// plans and starts a throttled job (marked automatic) when a shard that takes new keys is
    /// out of tolerance, at least the policy's minimum of records is mapped, no plan runs and
    /// `now` is inside the quiet hours (if any). Outside them, an automatic job that still runs
    /// is cancelled after its batch. The daemon calls this every `checkInterval`; in-process
    /// users call it on their own schedule. Never throws: a failure is the answer.
    public func checkAutoRebalance(now: Date = Date()) async -> AutoRebalanceCheck {
        guard let policy = await coordinator.configuration.autoRebalance else { return .off }
        do {
            let inQuietHours = policy.quietHours.map { $0.contains(now) } ?? true
            if let running = await runningRebalance() {
                guard running.automatic, !inQuietHours else { return .jobRunning(planID: running.planID) }
                _ = try await cancelRebalance(planID: running.planID)
                return .stoppedForQuietHours(planID: running.planID)
            }
            let store = catalog
            // A plan another daemon of a shared catalog runs.
            if let newest = try await rebalanceStatus(), newest.state == .running {
                return .jobRunning(planID: newest.planID)
            }
            let draining = coordinator.draining.withLock { $0 }
            let counts = try await BlockingWork.runLong { try store.recordCounts() }
            let total = Int(counts.values.reduce(0, +))
            guard total >= policy.minimumRecords else { return .tooFewRecords(total) }
            let receivers = Set(try await coordinator.eligibleCandidates().map(\.name))
            let distribution = ShardDistribution(
                shards: coordinator.registry.shards.map { shard in
                    ShardDistribution.Shard(
                        shard: shard.name,
                        records: counts[shard.name] ?? 0,
                        rows: nil,
                        sizeBytes: nil,
                        draining: draining.contains(shard.name) || !receivers.contains(shard.name)
                    )
                },
                tolerance: policy.tolerance
            )
            let imbalance = AutoRebalancePolicy.imbalance(of: distribution)
            guard imbalance > policy.tolerance else { return .balanced(imbalance: imbalance) }
            if let quietHours = policy.quietHours, !inQuietHours {
                return .waitingForQuietHours(imbalance: imbalance, quietHours: quietHours)
            }
            let planned = try await planMoves(maxMoves: policy.maxMoves, drain: [], tolerance: policy.tolerance)
            guard !planned.moves.isEmpty else { return .nothingToMove(imbalance: imbalance) }
            let plan = try await persist(planned, drain: [], tolerance: policy.tolerance, automatic: true)
            guard try await startRebalanceJob(planID: plan.planID, throttle: policy.rowsPerSecond, previous: .planned)
            else {
                // Someone started a plan between the check and now: this one is not needed.
                _ = try await cancelRebalance(planID: plan.planID)
                return .jobRunning(planID: await runningRebalance()?.planID ?? plan.planID)
            }
            return .started(planID: plan.planID, moves: plan.moves, imbalance: imbalance)
        } catch {
            return .failed("\(error)")
        }
    }
}
