/// An immutable snapshot of the known shards, in shard order.
package struct ShardRegistry: Sendable {
    package let shards: [any ShardBackend]
    /// Each shard as configured or registered, in the same order.
    let descriptors: [ShardDescriptor]
    let candidates: [ShardCandidate]
    private let indexByName: [String: Int]

    init(shards: [any ShardBackend], descriptors: [ShardDescriptor]) {
        self.shards = shards
        self.descriptors = descriptors
        candidates = descriptors.map(\.candidate)
        indexByName = Dictionary(shards.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    package var names: [String] { shards.map(\.name) }

    /// The shard named `name`, or `SHARD_NOT_FOUND`.
    package func database(named name: String) throws -> any ShardBackend {
        guard let shard = shard(named: name) else { throw CollegeDBError.shardNotFound(name) }
        return shard
    }

    /// The shard named `name`, or nil when none is known by that name.
    package func shard(named name: String) -> (any ShardBackend)? {
        indexByName[name].map { shards[$0] }
    }

    /// The shard a mapping points at, or `SHARD_UNAVAILABLE` when it is no longer configured.
    func mappedDatabase(named name: String, key: String) throws -> any ShardBackend {
        guard let index = indexByName[name] else {
            throw CollegeDBError(.shardUnavailable, "key '\(key)' maps to shard '\(name)', which is not configured")
        }
        return shards[index]
    }

    /// At most `limit` shards in shard order after the one named `cursor` (from the start when
    /// nil), and the cursor of the next page (nil after the last).
    /// - Throws: `INVALID_PARAMS` for a limit below 1 or a cursor naming no known shard.
    package func page(after cursor: String?, limit: Int) throws -> (shards: [any ShardBackend], next: String?) {
        guard limit >= 1 else { throw CollegeDBError.invalidParams("options.limit: must be >= 1") }
        var start = 0
        if let cursor {
            guard let index = indexByName[cursor] else {
                throw CollegeDBError.invalidParams("options.cursor: no shard named '\(cursor)' is known any more")
            }
            start = index + 1
        }
        let end = start + min(limit, shards.count - start)
        let page = Array(shards[start..<end])
        return (page, end < shards.count ? page.last?.name : nil)
    }
}
