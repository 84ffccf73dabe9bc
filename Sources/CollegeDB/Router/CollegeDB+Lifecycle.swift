extension CollegeDB {
    /// Applies a changed configuration without stopping: new shards are opened and appended;
    /// strategies, regions, weights, priorities, the size limit and the flush permission are
    /// replaced. Returns the names of the shards added. A change that needs a restart is
    /// refused and nothing changes. An added shard whose file holds rows in owned tables is
    /// adopted before this returns, as at start.
    public func reload(_ configuration: CollegeDBConfiguration) async throws -> [String] {
        let added = try await coordinator.apply(configuration)
        for shard in added { try await adoptIfNeeded(shard) }
        return added
    }

    /// Stops background jobs after their current step (a running rebalance is left paused and
    /// resumes at the next start), keeps each shard's query and error counts for the next
    /// start, then closes the mapping store and every shard, so that each database is left
    /// checkpointed and unlocked. Call it once nothing else uses the engine.
    public func close() async throws {
        await jobs.stopAll(in: .paused)
        let shards = coordinator.registry.shards
        let store = catalog
        try await BlockingWork.run {
            try store.saveMetrics(
                Dictionary(
                    shards.map {
                        ($0.name, (queries: $0.metrics.queryCount, errors: $0.metrics.errorCount))
                    },
                    uniquingKeysWith: { first, _ in first }
                )
            )
            try store.close()
        }
        do {
            for shard in shards { try await shard.shutDown() }
        } catch {
            await stopOwnPostgresClients()
            throw error
        }
        await stopOwnPostgresClients()
    }

    /// Ends the engine's own runner of PostgreSQL clients, if it has one.
    private func stopOwnPostgresClients() async {
        guard let ownPostgresClients else { return }
        ownPostgresClients.cancel()
        // The runner never throws; a cancelled one has stopped its clients.
        _ = await ownPostgresClients.result
    }
}
