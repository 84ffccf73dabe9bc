/// The KVShardMapper API: records with any number of lookup keys.
extension CollegeDB {
    /// The mapping of `key`'s record, or nil.
    public func shardMapping(key: String) async throws -> ShardMapping? {
        try await BlockingWork.run { try self.lookUpShardMapping(key: key) }
    }

    /// The mapping of `key`'s record, or nil. Blocks on SQLite: call it off event loops and
    /// off the cooperative pool.
    public func lookUpShardMapping(key: String) throws -> ShardMapping? {
        try Self.validate(key: key)
        return try catalog.mapping(forKey: key)
    }

    /// Maps `key` and `additionalKeys` to `shard` (a new record, or the key's record re-pointed;
    /// rows are not moved). A key held by another record is a `KEY_CONFLICT`.
    public func setShardMapping(key: String, shard: String, additionalKeys: [String] = []) async throws {
        try Self.validate(keys: [key] + additionalKeys)
        _ = try coordinator.registry.database(named: shard)
        let store = catalog
        let set: @Sendable () async throws -> Void = {
            try await BlockingWork.run { try store.setMapping(key: key, shard: shard, additionalKeys: additionalKeys) }
        }
        // Re-pointing a mapped record waits for its requests under way, as updateShardMapping does.
        if let record = try await BlockingWork.run({ try store.record(forKey: key) }) {
            try await coordinator.locks.moving(record.id, set)
        } else {
            try await set()
        }
    }

    /// Adds `keys` to `key`'s record; `MAPPING_NOT_FOUND` when `key` is unmapped.
    public func addLookupKeys(key: String, keys: [String]) async throws {
        try Self.validate(keys: [key] + keys)
        let store = catalog
        try await BlockingWork.run { try store.addLookupKeys(key: key, keys: keys) }
    }

    /// Every key of `key`'s record (SHA-256 digests in hex when keys are hashed).
    public func allLookupKeys(key: String) async throws -> [String] {
        try Self.validate(key: key)
        let store = catalog
        return try await BlockingWork.run { try store.lookupKeys(ofKey: key) }
    }

    /// Re-points `key`'s whole record at `shard` (rows are not moved; see `reassignShard`).
    /// Requests under way on the record finish first; later ones see the new shard.
    public func updateShardMapping(key: String, shard: String) async throws {
        try Self.validate(key: key)
        _ = try coordinator.registry.database(named: shard)
        let store = catalog
        guard let record = try await BlockingWork.run({ try store.record(forKey: key) }) else {
            throw CollegeDBError.mappingNotFound(key)
        }
        try await coordinator.locks.moving(record.id) {
            try await BlockingWork.run { _ = try store.updateMapping(key: key, shard: shard) }
        }
    }

    /// Removes `key`'s whole record; returns how many lookup keys went with it (0 if unmapped).
    /// Requests under way on the record finish first.
    public func deleteShardMapping(key: String) async throws -> Int {
        try Self.validate(key: key)
        let store = catalog
        guard let record = try await BlockingWork.run({ try store.record(forKey: key) }) else { return 0 }
        return try await coordinator.locks.moving(record.id) {
            try await BlockingWork.run { try store.deleteMapping(key: key) }
        }
    }

    /// The largest page `keysForShard` returns.
    public static let maximumKeyPage = 10_000

    /// One page of the keys mapped to `shard` and the cursor of the next page (nil after the
    /// last). Complete over any number of keys.
    public func keysForShard(
        _ shard: String,
        limit: Int = 1000,
        cursor: String? = nil
    ) async throws
        -> (keys: [String], cursor: String?)
    {
        _ = try coordinator.registry.database(named: shard)
        guard (1...Self.maximumKeyPage).contains(limit) else {
            throw CollegeDBError.invalidParams("limit: must be between 1 and \(Self.maximumKeyPage)")
        }
        let store = catalog
        let after = try cursor.map { text in
            guard let parsed = KeyCursor(text, hashesKeys: store.keyCodec.hashesKeys) else {
                throw CollegeDBError.invalidParams("cursor: not a cursor this method returned")
            }
            return parsed
        }
        let page = try await BlockingWork.run { try store.keys(onShard: shard, limit: limit, after: after) }
        return (page.keys, page.next?.text)
    }

    /// Deletes every mapping; refused unless flushing is allowed and `confirm` is true.
    /// Returns how many records were deleted.
    public func clearAllMappings(confirm: Bool) async throws -> Int {
        try checkFlushAllowed(confirm: confirm)
        let store = catalog
        let deleted = try await BlockingWork.run { try store.clearMappings() }
        coordinator.locks.mappingsChanged()
        logger.warning("cleared every mapping", metadata: ["records": "\(deleted)"])
        return deleted
    }

    static func validate(keys: [String]) throws {
        for key in keys { try validate(key: key) }
    }
}
