import Foundation
import Logging

/// A shard as configured: its name, its SQLite file, and what the strategies need to know.
public struct ShardDescriptor: Sendable, Hashable {
    public var name: String
    /// The SQLite file; nil means `DATA_DIR/shards/NAME.sqlite`.
    public var path: String?
    public var weight: Double
    public var region: Region?
    public var priority: Double

    public init(name: String, path: String? = nil, weight: Double = 1, region: Region? = nil, priority: Double = 1) {
        self.name = name
        self.path = path
        self.weight = weight
        self.region = region
        self.priority = priority
    }

    var candidate: ShardCandidate {
        ShardCandidate(name: name, weight: weight, region: region, priority: priority)
    }
}

/// Everything the engine needs to open: where its data lives, its shards, and its policies.
public struct CollegeDBConfiguration: Sendable {
    public var dataDirectory: String
    /// The shards, in shard order. Empty means the embedded default.
    public var shards: [ShardDescriptor]
    public var strategy: RoutingStrategy
    public var targetRegion: Region?
    /// Shards at or over this many bytes get no new keys.
    public var maxDatabaseSize: Int64?
    /// Keep lookup keys as SHA-256 digests (the default) rather than plain text.
    public var hashesKeys: Bool
    /// Digest keys with HMAC-SHA256 under a secret kept in `DATA_DIR/mapping.key`.
    public var keyedDigest: Bool
    /// Let `flush` and `clearAllMappings` run (development only).
    public var allowsFlush: Bool
    /// For `reassignShard`: table to the column holding the key (`posts` to `user_id`), beyond
    /// the default of every table whose primary key is `id`.
    public var ownership: [String: String]
    /// How shards run clients' statements: the statement policy, the time limit, the lanes.
    /// The default is ``ShardSettings/init(policy:statementTimeout:quickBudget:quickReaders:slowReaders:queueLimit:slowQueueLimit:maximumValueBytes:)``'s.
    public var shardSettings: ShardSettings
    /// How many keys' mappings are kept in memory; 0 turns the cache off. The default is
    /// 100,000.
    public var mappingCacheCapacity: Int
    /// When the engine rebalances by itself (see ``CollegeDB/checkAutoRebalance(now:)``). The
    /// default is nil: never.
    public var autoRebalance: AutoRebalancePolicy?

    public init(
        dataDirectory: String,
        shards: [ShardDescriptor] = [],
        strategy: RoutingStrategy = RoutingStrategy(.hash),
        targetRegion: Region? = nil,
        maxDatabaseSize: Int64? = nil,
        hashesKeys: Bool = true,
        keyedDigest: Bool = false,
        allowsFlush: Bool = false,
        ownership: [String: String] = [:],
        shardSettings: ShardSettings = ShardSettings(),
        mappingCacheCapacity: Int = 100_000,
        autoRebalance: AutoRebalancePolicy? = nil
    ) {
        self.autoRebalance = autoRebalance
        self.mappingCacheCapacity = mappingCacheCapacity
        self.shardSettings = shardSettings
        self.dataDirectory = dataDirectory
        self.shards = shards
        self.strategy = strategy
        self.targetRegion = targetRegion
        self.maxDatabaseSize = maxDatabaseSize
        self.hashesKeys = hashesKeys
        self.keyedDigest = keyedDigest
        self.allowsFlush = allowsFlush
        self.ownership = ownership
    }

    /// The shards the daemon starts with when none is configured anywhere.
    public static let embeddedDefaultShards = ["db-1", "db-2", "db-3"].map { ShardDescriptor(name: $0) }

    /// Whether no shard is configured, so the embedded default applies.
    public var usesEmbeddedDefault: Bool { shards.isEmpty }

    var configuredShards: [ShardDescriptor] { shards.isEmpty ? Self.embeddedDefaultShards : shards }

    /// The configured shards less those unregistered at run time, then those registered at run
    /// time, in that order.
    func effectiveShards(registrations: [MappingStore.ShardRegistration]) -> [ShardDescriptor] {
        let removed = Set(registrations.filter { !$0.registered }.map(\.name))
        let configured = configuredShards.filter { !removed.contains($0.name) }
        let configuredNames = Set(configured.map(\.name))
        let added = registrations.filter { $0.registered && !configuredNames.contains($0.name) }
            .map { ShardDescriptor(name: $0.name, path: $0.path) }
        return configured + added
    }

    /// The routing rules of this configuration.
    public var policy: RoutingPolicy {
        RoutingPolicy(
            strategy: strategy,
            targetRegion: targetRegion,
            maxDatabaseSize: maxDatabaseSize,
            allowsFlush: allowsFlush
        )
    }

    /// How the mapping store keeps keys, loading (or making) the secret of keyed digests.
    func keyCodec() throws -> MappingKeyCodec {
        guard keyedDigest else { return MappingKeyCodec(hashesKeys: hashesKeys) }
        guard hashesKeys else {
            throw CollegeDBError.invalidParams("keyed digests and plain-text keys exclude each other")
        }
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        return MappingKeyCodec(secret: try MappingSecret.loadOrCreate(at: dataDirectory + "/mapping.key"))
    }

    var mappingStorePath: String { dataDirectory + "/mapping.sqlite" }

    func path(of shard: ShardDescriptor) -> String {
        shard.path ?? "\(dataDirectory)/shards/\(shard.name).sqlite"
    }
}
