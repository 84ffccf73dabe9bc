import Foundation
import Logging

/// A shard as configured: its name, its database (a SQLite file or a PostgreSQL database),
/// and what the strategies need to know.
public struct ShardDescriptor: Sendable, Hashable {
    /// The shard's name, unique among the shards; clients and the mapping store use it.
    public var name: String
    /// The SQLite file. The default is nil: `DATA_DIR/shards/NAME.sqlite`, unless ``postgres``
    /// is given.
    public var path: String?
    /// The PostgreSQL database, for a PostgreSQL shard. The default is nil: a SQLite shard.
    public var postgres: PostgresShardAddress?
    /// The shard's share of new keys under `hash` (rendezvous hashing weighs by it). The
    /// default is 1.
    public var weight: Double
    /// Where the shard is, for the `location` strategy. The default is nil: no region.
    public var region: Region?
    /// Among the shards of one region, how strongly `location` prefers this one. The default
    /// is 1.
    public var priority: Double

    /// - Parameters:
    ///   - name: The shard's name.
    ///   - path: The SQLite file; nil (the default) for `DATA_DIR/shards/NAME.sqlite`.
    ///   - weight: The share of new keys under `hash`. The default is 1.
    ///   - region: The shard's region for `location`. The default is nil.
    ///   - priority: The preference within its region for `location`. The default is 1.
    ///   - postgres: The PostgreSQL database of a PostgreSQL shard. The default is nil: SQLite.
    public init(
        name: String,
        path: String? = nil,
        weight: Double = 1,
        region: Region? = nil,
        priority: Double = 1,
        postgres: PostgresShardAddress? = nil
    ) {
        self.name = name
        self.path = path
        self.postgres = postgres
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
    /// Where the mapping store (`mappings.sqlite`), the data directory lock and the default
    /// shard files (`shards/NAME.sqlite`) live. Required.
    public var dataDirectory: String
    /// The shards, in shard order. The default is empty: the embedded default
    /// (``embeddedDefaultShards``).
    public var shards: [ShardDescriptor]
    /// How a key without a mapping is placed (writes) or routed (reads). The default is `hash`
    /// for both.
    public var strategy: RoutingStrategy
    /// The region the `location` strategy routes towards. The default is nil.
    public var targetRegion: Region?
    /// Shards at or over this many bytes get no new keys. The default is nil: no limit.
    public var maxDatabaseSize: Int64?
    /// Whether lookup keys are kept as SHA-256 digests rather than plain text. The default is
    /// true. A store cannot be opened with the other setting.
    public var hashesKeys: Bool
    /// Whether keys are digested with HMAC-SHA256 under a secret kept in `DATA_DIR/mapping.key`
    /// (made on first use, mode 0600) instead of plain SHA-256. The default is false.
    public var keyedDigest: Bool
    /// Whether `flush` and `clearAllMappings` may run (development only). The default is false.
    public var allowsFlush: Bool
    /// For moves and rebalancing: table to the column holding the key (`posts` to `user_id`),
    /// beyond every table whose primary key is `id`. The default is empty.
    public var ownership: [String: String]
    /// How shards run clients' statements: the statement policy, the time limit, the lanes.
    /// The default is `ShardSettings()`: durable commits, a 5-second statement limit, the
    /// default statement policy and lanes.
    public var shardSettings: ShardSettings
    /// How many keys' mappings are kept in memory; 0 turns the cache off. The default is
    /// 100,000.
    public var mappingCacheCapacity: Int
    /// When the engine rebalances by itself (see ``CollegeDB/checkAutoRebalance(now:)``). The
    /// default is nil: never.
    public var autoRebalance: AutoRebalancePolicy?
    /// A PostgreSQL database that keeps the catalog (mappings, registry, statistics,
    /// round-robin position, move intents) for every daemon started with it; then every shard
    /// must be a PostgreSQL shard, since other hosts could not reach a SQLite file. The default
    /// is nil: the SQLite mapping store `DATA_DIR/mapping.sqlite`, for this daemon alone.
    public var catalog: PostgresShardAddress?
    /// Open files the engine leaves for what is not a shard (client connections), when it
    /// checks that its SQLite shards fit the process's open-file limit (a shard that does not
    /// fit is refused with `OVERLOADED`, at open or at `registerShard`). The default is 1,280:
    /// the daemon's default connection limits with a margin.
    public var descriptorsReservedForClients: Int = 1280
    /// A directory whose `*.sqlite` files are shards, each named after its file (`acme.sqlite`
    /// is shard `acme`), after the configured shards in name order; a file whose name is not a
    /// valid shard name is skipped and logged. For many tenants, where listing each shard is
    /// impractical. The default is nil: no such directory (and with no shard configured
    /// either, the embedded default).
    public var shardDirectory: String?
    /// How many SQLite shards are open at once: the others hold no descriptor, connection or
    /// cache, and open on their first use, closing the least recently used idle one (see
    /// ``OpenShardSlots``). Lowered at open, with a warning, when the open-file limit cannot
    /// afford it. The default is 256.
    public var maxOpenShards: Int = 256
    /// The service that runs the PostgreSQL clients of the shards and the shared catalog. An
    /// application with a `ServiceGroup` gives its own and runs it there, before the services
    /// that use the engine, so that it stops after them. The default is nil: the engine runs
    /// one of its own until ``CollegeDB/close()``.
    public var postgresClients: PostgresClients?

    /// - Parameters:
    ///   - dataDirectory: Where the mapping store and the default shard files live.
    ///   - shards: The shards, in shard order. The default is empty: the embedded default.
    ///   - strategy: Placement and routing of unmapped keys. The default is `hash`.
    ///   - targetRegion: The region `location` routes towards. The default is nil.
    ///   - maxDatabaseSize: Shards at or over this many bytes get no new keys. The default is nil.
    ///   - hashesKeys: Keep keys as SHA-256 digests. The default is true.
    ///   - keyedDigest: Use HMAC-SHA256 under a secret in the data directory. The default is false.
    ///   - allowsFlush: Let `flush` and `clearAllMappings` run. The default is false.
    ///   - ownership: Table to the column holding the key, for moves. The default is empty.
    ///   - shardSettings: How shards run clients' statements. The default is `ShardSettings()`.
    ///   - mappingCacheCapacity: Mappings kept in memory. The default is 100,000.
    ///   - autoRebalance: When the engine rebalances by itself. The default is nil: never.
    ///   - catalog: A shared PostgreSQL catalog. The default is nil: the SQLite mapping store.
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
        autoRebalance: AutoRebalancePolicy? = nil,
        catalog: PostgresShardAddress? = nil
    ) {
        self.catalog = catalog
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
    public var usesEmbeddedDefault: Bool { shards.isEmpty && shardDirectory == nil }

    var configuredShards: [ShardDescriptor] { usesEmbeddedDefault ? Self.embeddedDefaultShards : shards }

    /// The shards of ``shardDirectory`` (none without one), in name order, and the names of
    /// the `*.sqlite` files there that are not valid shard names.
    /// - Throws: `INVALID_PARAMS` when the directory cannot be listed.
    func directoryShards() throws -> (shards: [ShardDescriptor], skipped: [String]) {
        guard let shardDirectory else { return ([], []) }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: shardDirectory)
        } catch {
            throw CollegeDBError.invalidParams("the shard directory \(shardDirectory) cannot be listed: \(error)")
        }
        var shards: [ShardDescriptor] = []
        var skipped: [String] = []
        for file in names.sorted() where file.hasSuffix(".sqlite") {
            let name = String(file.dropLast(".sqlite".count))
            guard ShardName.problem(with: name) == nil else {
                // Not a name clients could use: logged by the caller, and never a shard.
                skipped.append(file)
                continue
            }
            shards.append(ShardDescriptor(name: name, path: shardDirectory + "/" + file))
        }
        return (shards, skipped)
    }

    /// The configured shards less those unregistered at run time, then those registered at run
    /// time, in that order.
    /// A configured shard that was unregistered and registered again (perhaps at another file)
    /// is the registered one, in registration order.
    /// `directory` is the shard directory's shards when the caller listed them already.
    /// - Throws: `INVALID_PARAMS` when the shard directory cannot be listed.
    func effectiveShards(
        registrations: [ShardRegistration],
        directory: [ShardDescriptor]? = nil
    ) throws -> [ShardDescriptor] {
        let directory = try directory ?? directoryShards().shards
        let changedAtRunTime = Set(registrations.map(\.name))
        let configuredNames = Set(configuredShards.map(\.name))
        let configured =
            (configuredShards + directory.filter { !configuredNames.contains($0.name) })
            .filter { !changedAtRunTime.contains($0.name) }
        let added = registrations.filter(\.registered)
            .map { registration in
                // A registered URL that no longer parses is opened as a file path, which the
                // file check refuses: the shard is reported unavailable, and the others serve.
                if let path = registration.path, PostgresShardAddress.isURL(path),
                    let address = try? PostgresShardAddress(url: path)
                {
                    return ShardDescriptor(name: registration.name, postgres: address)
                }
                return ShardDescriptor(name: registration.name, path: registration.path)
            }
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

    /// The runner of PostgreSQL clients that ``CollegeDB/open(_:logger:adoptionProgress:)``
    /// settled on: the application's, else the engine's own.
    /// - Throws: `INTERNAL_ERROR` when there is none, which `open` never leaves.
    func postgresClientsToUse() throws -> PostgresClients {
        guard let postgresClients else {
            throw CollegeDBError(.internalError, "the engine has no runner for PostgreSQL clients")
        }
        return postgresClients
    }

    /// Opens the shared PostgreSQL catalog when one is configured, else the SQLite mapping
    /// store. Blocks.
    func openCatalog(logger: Logger) throws -> any MappingCatalog {
        let keyCodec = try keyCodec()
        if let catalog {
            return try PostgresCatalog(
                address: catalog,
                keyCodec: keyCodec,
                clients: try postgresClientsToUse(),
                logger: logger
            )
        }
        return try MappingStore(path: mappingStorePath, keyCodec: keyCodec)
    }

    func path(of shard: ShardDescriptor) -> String {
        shard.path ?? "\(dataDirectory)/shards/\(shard.name).sqlite"
    }

    /// SQLite shards up to which every shard's file is checked against all the others' when
    /// the engine opens and at each registration (``ShardFileCheck``). Past it, a file's own
    /// checks run when its shard first opens, and two shards are told apart by their paths as
    /// written, so that opening the engine and registering a shard take no time that grows
    /// with the shard count: 1,000.
    package static let eagerFileCheckLimit = 1_000

    /// Whether `shards` are few enough for every file to be checked against all the others.
    func checksFilesEagerly(_ shards: [ShardDescriptor]) -> Bool {
        shards.count { $0.postgres == nil } <= Self.eagerFileCheckLimit
    }

    /// Checks that a SQLite shard's file may be its file, beside the SQLite shards before it
    /// in `shards` (so of two shards on one file, the first keeps it); a PostgreSQL shard
    /// passes. Past ``eagerFileCheckLimit`` shards, only the paths as written are compared
    /// here; the file's own checks run at its first open.
    /// - Throws: `INVALID_PARAMS` saying why not.
    func checkFile(of shard: ShardDescriptor, among shards: [ShardDescriptor]) throws {
        guard shard.postgres == nil else { return }
        let earlier = shards.prefix { $0.name != shard.name }.filter { $0.postgres == nil }.map { path(of: $0) }
        guard checksFilesEagerly(shards) else {
            let own = Self.lexicallyNormalized(path(of: shard))
            if earlier.contains(where: { Self.lexicallyNormalized($0) == own }) {
                throw CollegeDBError.invalidParams(
                    "shard '\(shard.name)': \(path(of: shard)) cannot be a shard's file: it is another shard's file"
                )
            }
            return
        }
        try ShardFileCheck(dataDirectory: dataDirectory, otherShardFiles: earlier).check(
            path(of: shard),
            shard: shard.name
        )
    }

    /// Checks every SQLite shard's file of `shards` in one pass, each against those before it,
    /// and returns why each refused one may not use its file. Past ``eagerFileCheckLimit``
    /// shards, only the paths as written are compared (the rest waits for each first open).
    func checkFiles(of shards: [ShardDescriptor]) -> [String: CollegeDBError] {
        var refused: [String: CollegeDBError] = [:]
        if checksFilesEagerly(shards) {
            var check = ShardFileCheck(dataDirectory: dataDirectory)
            for shard in shards where shard.postgres == nil {
                do {
                    try check.checkAndAdd(path(of: shard), shard: shard.name)
                } catch let error as CollegeDBError {
                    refused[shard.name] = error
                } catch {
                    refused[shard.name] = CollegeDBError(.internalError, "\(error)")
                }
            }
            return refused
        }
        var taken = Set<String>()
        for shard in shards where shard.postgres == nil {
            guard taken.insert(Self.lexicallyNormalized(path(of: shard))).inserted else {
                refused[shard.name] = CollegeDBError.invalidParams(
                    "shard '\(shard.name)': \(path(of: shard)) cannot be a shard's file: it is another shard's file"
                )
                continue
            }
        }
        return refused
    }

    /// `path` with repeated and trailing slashes, `.` and `..` resolved as written, without
    /// asking the file system (links are not followed): how paths are compared past
    /// ``eagerFileCheckLimit`` shards.
    static func lexicallyNormalized(_ path: String) -> String {
        let isNormal =
            !path.contains("//") && !path.contains("/./") && !path.contains("/../") && !path.hasSuffix("/")
            && !path.hasSuffix("/.") && !path.hasSuffix("/..")
        if isNormal { return path }
        var components: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..": _ = components.popLast()
            default: components.append(component)
            }
        }
        return "/" + components.joined(separator: "/")
    }

    /// A check of one shard's file on its own, for its first open when the engine did not
    /// check it against the others (past ``eagerFileCheckLimit`` shards).
    func firstOpenFileCheck(of shard: ShardDescriptor) -> @Sendable () throws -> Void {
        let dataDirectory = dataDirectory
        let path = path(of: shard)
        let name = shard.name
        return { try ShardFileCheck(dataDirectory: dataDirectory).check(path, shard: name) }
    }

    /// Lowers ``maxOpenShards`` to what the process's open-file limit affords beside the
    /// client connections (shards registered later open within it too), and returns the value
    /// it had when that leaves fewer open than the `sqliteShards` known now, which deserves a
    /// warning.
    /// - Throws: `OVERLOADED` when not even one SQLite shard fits, saying what to change.
    mutating func fitOpenShardsToDescriptorLimit(sqliteShards: Int) throws -> Int? {
        let budget = DescriptorBudget(reservedForClients: descriptorsReservedForClients)
        let affordable = budget.openShardsThatFit(limit: DescriptorBudget.processLimit)
        guard affordable < maxOpenShards else { return nil }
        guard affordable >= 1 else {
            if sqliteShards > 0 { try budget.check(sqliteShards: 1) }
            return nil
        }
        let configured = maxOpenShards
        maxOpenShards = affordable
        return affordable < min(configured, sqliteShards) ? configured : nil
    }

    /// Where `shard` is, as ``ShardBackend/location`` reports it.
    func location(of shard: ShardDescriptor) -> String {
        shard.postgres?.description ?? path(of: shard)
    }

    /// Opens `shard`: a SQLite file (reported unavailable when it cannot be opened, so that the
    /// others serve) or a PostgreSQL pool (which connects when first used). Blocks on SQLite.
    /// - Throws: `INVALID_PARAMS` when a PostgreSQL shard's password file cannot be read.
    func openShard(
        _ shard: ShardDescriptor,
        savedMetrics: (queries: Int, errors: Int)? = nil,
        checkingFileAtFirstOpen: Bool = false,
        logger: Logger
    ) throws -> any ShardBackend {
        if let address = shard.postgres {
            return try PostgresShard(
                name: shard.name,
                address: address,
                settings: shardSettings,
                savedMetrics: savedMetrics,
                clients: try postgresClientsToUse(),
                logger: logger
            )
        }
        return ShardDatabase(
            reportingFailure: shard.name,
            path: path(of: shard),
            settings: shardSettings,
            savedMetrics: savedMetrics,
            firstOpenCheck: checkingFileAtFirstOpen ? firstOpenFileCheck(of: shard) : nil
        )
    }
}
