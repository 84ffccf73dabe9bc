extension CollegeDB {
    /// Makes `collegedb_id()` in each of `shards` that makes its own ids (a PostgreSQL shard),
    /// with the node the catalog gives the shard's name (``ClusterIdentifiers``), all shards at
    /// once, so that servers that are down hold a start for one connect timeout, not one each.
    /// A shard whose server cannot be reached now is logged and left: its function is made at
    /// the next start or registration. SQLite shards need nothing: each connection has the
    /// function.
    func prepareIdentifiers(on shards: [any ShardBackend]) async {
        let catalog = self.catalog
        let logger = self.logger
        await withTaskGroup(of: Void.self) { group in
            for shard in shards where shard.makesItsOwnIdentifiers {
                group.addTask {
                    do {
                        let node = try await BlockingWork.run { try catalog.identifierNode(ofShard: shard.name) }
                        try await shard.prepareIdentifiers(node: node)
                    } catch {
                        logger.warning(
                            "collegedb_id() could not be made on a shard; it is tried again at the next start",
                            metadata: ["shard": "\(shard.name)", "reason": "\(error)"]
                        )
                    }
                }
            }
        }
    }
}
