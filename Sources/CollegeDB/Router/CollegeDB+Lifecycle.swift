extension CollegeDB {
    /// Applies a changed configuration without stopping: new shards are opened and appended;
    /// strategies, regions, weights, priorities, the size limit and the flush permission are
    /// replaced. Returns the names of the shards added. A change that needs a restart is
    /// refused and nothing changes.
    public func reload(_ configuration: CollegeDBConfiguration) async throws -> [String] {
        try await coordinator.apply(configuration)
    }

    /// Closes the mapping store and every shard, so that each database is left checkpointed and
    /// unlocked. Call it once nothing else uses the engine.
    public func close() async throws {
        let shards = coordinator.registry.shards
        let store = mappingStore
        try await BlockingWork.run {
            for shard in shards { try shard.close() }
            try store.close()
        }
    }
}
