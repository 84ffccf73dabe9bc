import CollegeDB
import CollegeDBServer
import Foundation
import Logging

/// The daemon's effective settings: the config file, overridden by flags, checked.
struct DaemonSettings: Sendable {
    var database: CollegeDBConfiguration
    var server: ServerConfiguration
    var logLevel: Logger.Level

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    static let defaultDataDirectory = "collegedb-data"

    /// The first of systemd's `$STATE_DIRECTORY` (a colon-separated list when the unit names
    /// several, as the package's does: the data, then the backups), or nil when it is unset.
    static func firstStateDirectory(_ environment: [String: String]) -> String? {
        guard let directories = environment["STATE_DIRECTORY"],
            let first = directories.split(separator: ":", omittingEmptySubsequences: true).first
        else { return nil }
        return String(first)
    }

    /// `activation` holds the sockets systemd passed; with one, `--socket` is not bound.
    init(
        options: DaemonOptions,
        file: ConfigFile?,
        activation: SystemdSocketActivation,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        let file = file ?? ConfigFile.empty
        let dataDirectory = Self.absolute(
            options.dataDirectory ?? file.dataDirectory ?? Self.firstStateDirectory(environment)
                ?? Self.defaultDataDirectory
        )

        var shards: [ShardDescriptor]
        if !options.shards.isEmpty {
            shards = try options.shards.map(Self.parseShardFlag)
        } else {
            shards = try (file.shards ?? []).map { shard in
                if shard.postgres != nil, shard.path != nil {
                    throw Invalid(description: "shards.\(shard.name): give either path (SQLite) or postgres, not both")
                }
                if shard.passwordFile != nil, shard.postgres == nil {
                    throw Invalid(description: "shards.\(shard.name): passwordFile is for a postgres shard")
                }
                return ShardDescriptor(
                    name: shard.name,
                    path: shard.path.map(Self.absolute),
                    weight: shard.weight ?? 1,
                    region: try shard.region.map { try Self.region($0, "shards.\(shard.name).region") },
                    priority: shard.priority ?? 1,
                    postgres: try shard.postgres.map { url in
                        try Self.postgresAddress(
                            url,
                            passwordFile: shard.passwordFile.map(Self.absolute),
                            "shards.\(shard.name).postgres"
                        )
                    }
                )
            }
        }
        for location in options.shardLocations {
            let (name, region, priority) = try Self.parseShardLocation(location)
            if shards.isEmpty { shards = CollegeDBConfiguration.embeddedDefaultShards }
            guard let index = shards.firstIndex(where: { $0.name == name }) else {
                throw Invalid(description: "--shard-location \(location): no shard named '\(name)'")
            }
            shards[index].region = region
            if let priority { shards[index].priority = priority }
        }

        let plain = try options.strategy ?? file.strategy.map { try Self.strategy($0, "strategy") } ?? .hash
        let read =
            try options.readStrategy ?? file.readStrategy.map { try Self.strategy($0, "read strategy") } ?? plain
        let write =
            try options.writeStrategy ?? file.writeStrategy.map { try Self.strategy($0, "write strategy") } ?? plain
        let targetRegion = try (options.targetRegion ?? file.targetRegion).map { try Self.region($0, "target region") }
        let maxDatabaseSize = options.maxDatabaseSize ?? file.maxDatabaseSize
        if let maxDatabaseSize, maxDatabaseSize <= 0 {
            throw Invalid(description: "max database size must be positive, got \(maxDatabaseSize)")
        }
        let catalog = try (options.catalog ?? file.catalog).map { url in
            try Self.postgresAddress(
                url,
                passwordFile: (options.catalogPasswordFile ?? file.catalogPasswordFile).map(Self.absolute),
                "catalog"
            )
        }
        if catalog == nil, options.catalogPasswordFile ?? file.catalogPasswordFile != nil {
            throw Invalid(description: "a catalog password file is for a catalog: give --catalog (or catalog) too")
        }
        if catalog != nil, let local = shards.first(where: { $0.postgres == nil }) {
            throw Invalid(
                description: "shard '\(local.name)' is a SQLite file, which the other daemons of a shared catalog "
                    + "cannot reach; with a catalog every shard must be postgresql://…"
            )
        }
        database = CollegeDBConfiguration(
            dataDirectory: dataDirectory,
            shards: shards,
            strategy: RoutingStrategy(read: read, write: write),
            targetRegion: targetRegion,
            maxDatabaseSize: maxDatabaseSize,
            hashesKeys: options.noHashKeys ? false : (file.hashKeys ?? true),
            keyedDigest: options.keyedDigest || (file.keyedDigest ?? false),
            allowsFlush: options.allowFlush || (file.allowFlush ?? false),
            ownership: try Self.ownership(flags: options.owners, file: file.ownership ?? [:]),
            shardSettings: try Self.shardSettings(options, file),
            autoRebalance: try file.autoRebalance.map(Self.autoRebalance),
            catalog: catalog
        )

        let socketPath = Self.absolute(options.socket ?? file.socket ?? dataDirectory + "/collegedb.sock")
        let modeText = options.socketMode ?? file.socketMode ?? "0660"
        guard let mode = UInt16(modeText, radix: 8), mode <= 0o777 else {
            throw Invalid(description: "socket mode must be octal permission bits such as 0660, got '\(modeText)'")
        }
        let maximumLineLength =
            options.maxLineBytes ?? file.maxLineBytes ?? ServerConfiguration.defaultMaximumLineLength
        guard (1...Self.mostLineBytes).contains(maximumLineLength) else {
            throw Invalid(description: "max line bytes must be between 1 and \(Self.mostLineBytes)")
        }
        let shutdownTimeout = options.shutdownTimeout ?? file.shutdownTimeout ?? 10
        guard (0...Self.longestTimeout).contains(shutdownTimeout) else {
            throw Invalid(description: "shutdown timeout must be between 0 and \(Int(Self.longestTimeout)) seconds")
        }
        let listener: ServerConfiguration.Listener
        if let inherited = activation.socket(named: options.socketName ?? file.socketName ?? "collegedb") {
            listener = .inherited(descriptor: inherited.descriptor, name: inherited.name)
        } else {
            listener = .path(socketPath)
        }
        server = ServerConfiguration(
            listener: listener,
            socketMode: mode,
            maximumLineLength: maximumLineLength,
            drainTimeout: .milliseconds(Int64(shutdownTimeout * 1000)),
            access: try Self.access(options, file),
            connectionLimits: try Self.connectionLimits(options, file)
        )
        database.descriptorsReservedForClients = server.connectionLimits.mostOpen + FileDescriptorLimit.forFiles
        database.shardDirectory = (options.shardDirectory ?? file.shardDirectory).map(Self.absolute)
        let maxOpenShards = options.maxOpenShards ?? file.maxOpenShards ?? database.maxOpenShards
        guard (1...Self.mostOpenShards).contains(maxOpenShards) else {
            throw Invalid(description: "max open shards must be from 1 to \(Self.mostOpenShards)")
        }
        database.maxOpenShards = maxOpenShards

        logLevel =
            try options.logLevel
            ?? file.logLevel.map { text in
                guard let level = Logger.Level(rawValue: text) else {
                    throw Invalid(
                        description: "log level must be trace, debug, info, notice, warning, error or critical"
                    )
                }
                return level
            } ?? .info
    }

    /// How many connections are served at once: flags over the file.
    static func connectionLimits(_ options: DaemonOptions, _ file: ConfigFile) throws -> ConnectionLimits {
        let defaults = ConnectionLimits()
        let limits = ConnectionLimits(
            maximum: options.maxConnections ?? file.maxConnections ?? defaults.maximum,
            maximumPerUser: options.maxConnectionsPerUser ?? file.maxConnectionsPerUser ?? defaults.maximumPerUser
        )
        let range = 1...ConnectionLimits.largest
        guard range.contains(limits.maximum), range.contains(limits.maximumPerUser) else {
            throw Invalid(
                description:
                    "max connections and max connections per user must be from 1 to \(ConnectionLimits.largest)"
            )
        }
        return limits
    }

    /// The most SQLite shards that may be kept open at once: 1,000,000 (beyond any open-file
    /// limit; the engine lowers it to what the limit affords).
    static let mostOpenShards = 1_000_000

    /// The longest line a request may be: 1 GiB (the framing's arithmetic stays far from
    /// overflow, and no client needs more).
    static let mostLineBytes = 1 << 30
    /// The longest statement or shutdown timeout: a day, in seconds.
    static let longestTimeout: Double = 86_400

    /// The statement policy and time limit: flags over the file.
    static func shardSettings(_ options: DaemonOptions, _ file: ConfigFile) throws -> ShardSettings {
        let timeout = options.statementTimeout ?? file.statementTimeout ?? 5
        guard timeout >= 0.001, timeout <= Self.longestTimeout else {
            throw Invalid(
                description: "statement timeout must be between 0.001 and \(Int(Self.longestTimeout)) seconds"
            )
        }
        let pragmas = options.allowedPragmas.isEmpty ? (file.allowPragmas ?? []) : options.allowedPragmas
        let durability =
            try options.durability
            ?? file.durability.map { text in
                guard let durability = ShardSettings.Durability(rawValue: text) else {
                    throw Invalid(description: "durability must be full or normal, got '\(text)'")
                }
                return durability
            } ?? .full
        do {
            return ShardSettings(
                durability: durability,
                policy: try StatementPolicy(allowedPragmas: Set(pragmas)),
                statementTimeout: .milliseconds(Int64(timeout * 1000))
            )
        } catch let error as CollegeDBError {
            throw Invalid(description: error.message)
        }
    }

    /// The config file's `autoRebalance`, checked, over the policy's defaults.
    static func autoRebalance(_ file: ConfigFile.AutoRebalance) throws -> AutoRebalancePolicy {
        var policy = AutoRebalancePolicy()
        if let tolerance = file.tolerance {
            guard tolerance >= 1, tolerance.isFinite else {
                throw Invalid(description: "autoRebalance.tolerance must be at least 1, got \(tolerance)")
            }
            policy.tolerance = tolerance
        }
        if let throttle = file.rowsPerSecond {
            if let throttle, !RebalanceThrottle.isValid(throttle) {
                throw Invalid(
                    description:
                        "autoRebalance.rowsPerSecond must be at least 1 and at most 1,000,000,000 (or null for no limit)"
                )
            }
            policy.rowsPerSecond = throttle
        }
        if let text = file.quietHours {
            guard let quietHours = QuietHours(parsing: text) else {
                throw Invalid(description: "autoRebalance.quietHours must be HH:MM-HH:MM (local time), got '\(text)'")
            }
            policy.quietHours = quietHours
        }
        if let seconds = file.checkInterval {
            guard seconds >= 0.1, seconds <= 86_400 else {
                throw Invalid(description: "autoRebalance.checkInterval must be between 0.1 and 86400 seconds")
            }
            policy.checkInterval = .milliseconds(Int64(seconds * 1000))
        }
        if let minimum = file.minRecords {
            guard minimum >= 0 else { throw Invalid(description: "autoRebalance.minRecords must not be negative") }
            policy.minimumRecords = Int(minimum)
        }
        if let maxMoves = file.maxMoves {
            guard maxMoves >= 1 else { throw Invalid(description: "autoRebalance.maxMoves must be at least 1") }
            policy.maxMoves = Int(maxMoves)
        }
        return policy
    }

    /// Who may connect and administer: flags over the file, groups resolved to ids.
    static func access(_ options: DaemonOptions, _ file: ConfigFile) throws -> PeerAccessPolicy {
        func groupIDs(_ names: [String]) throws -> Set<UInt32> {
            do {
                return Set(try names.map(PeerAccessPolicy.groupID))
            } catch {
                throw Invalid(description: "\(error)")
            }
        }
        return PeerAccessPolicy(
            allowedUsers: Set(options.allowedUsers.isEmpty ? (file.allowUids ?? []) : options.allowedUsers),
            allowedGroups: try groupIDs(
                options.allowedGroups.isEmpty ? (file.allowGroups ?? []) : options.allowedGroups
            ),
            administratorUsers: Set(
                options.administratorUsers.isEmpty ? (file.adminUids ?? []) : options.administratorUsers
            ),
            administratorGroups: try groupIDs(
                options.administratorGroups.isEmpty ? (file.adminGroups ?? []) : options.administratorGroups
            )
        )
    }

    static func parseShardFlag(_ text: String) throws -> ShardDescriptor {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard let name = parts.first, !name.isEmpty else {
            throw Invalid(description: "--shard \(text): needs NAME[=PATH]")
        }
        if parts.count == 2 {
            guard !parts[1].isEmpty else { throw Invalid(description: "--shard \(text): the path is empty") }
            if PostgresShardAddress.isURL(parts[1]) {
                return ShardDescriptor(
                    name: name,
                    postgres: try postgresAddress(parts[1], passwordFile: nil, "--shard \(name)")
                )
            }
            return ShardDescriptor(name: name, path: absolute(parts[1]))
        }
        return ShardDescriptor(name: name)
    }

    /// A PostgreSQL shard's address, or the reason it is refused.
    static func postgresAddress(_ url: String, passwordFile: String?, _ label: String) throws -> PostgresShardAddress {
        do {
            return try PostgresShardAddress(url: url, passwordFile: passwordFile)
        } catch let error as CollegeDBError {
            throw Invalid(description: "\(label): \(error.message)")
        }
    }

    /// The config file's ownership, with `--owner TABLE=COLUMN` flags over it.
    static func ownership(flags: [String], file: [String: String]) throws -> [String: String] {
        var ownership = file
        for flag in flags {
            let parts = flag.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw Invalid(description: "--owner \(flag): needs TABLE=COLUMN")
            }
            ownership[parts[0]] = parts[1]
        }
        return ownership
    }

    static func parseShardLocation(_ text: String) throws -> (String, Region, Double?) {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2 else {
            throw Invalid(description: "--shard-location \(text): needs NAME=REGION[:PRIORITY]")
        }
        let regionParts = parts[1].split(separator: ":", maxSplits: 1).map(String.init)
        guard let regionName = regionParts.first else {
            throw Invalid(description: "--shard-location \(text): needs NAME=REGION[:PRIORITY]")
        }
        let region = try region(regionName, "--shard-location \(text)")
        guard regionParts.count == 2 else { return (parts[0], region, nil) }
        guard let priority = Double(regionParts[1]), priority > 0 else {
            throw Invalid(description: "--shard-location \(text): the priority must be a positive number")
        }
        return (parts[0], region, priority)
    }

    static func strategy(_ text: String, _ label: String) throws -> StrategyKind {
        guard let kind = StrategyKind(rawValue: text) else {
            throw Invalid(description: "\(label) must be hash, round-robin, random or location, got '\(text)'")
        }
        return kind
    }

    static func region(_ text: String, _ label: String) throws -> Region {
        guard let region = Region(rawValue: text) else {
            let known = Region.allCases.map(\.rawValue).joined(separator: " ")
            throw Invalid(description: "\(label): unknown region '\(text)' (known: \(known))")
        }
        return region
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}

extension ConfigFile {
    static let empty = try! ConfigFile(.object([]), path: "")
}
