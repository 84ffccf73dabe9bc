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
}
