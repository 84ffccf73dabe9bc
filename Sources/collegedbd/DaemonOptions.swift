import ArgumentParser
import CollegeDB
import Logging

/// The daemon's command line. Every setting can also come from the config file; a flag wins.
struct DaemonOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: "The config file (JSON; see the README).")
    var configPath: String?

    @Option(help: "Where to listen when not socket-activated (default: DATA_DIR/collegedb.sock).")
    var socket: String?

    @Option(help: "Under socket activation, the FileDescriptorName= to serve on (default: collegedb; else the first).")
    var socketName: String?

    @Option(help: "Seconds a shutdown waits for connections to answer what they received (default: 10).")
    var shutdownTimeout: Double?

    @Option(help: "Permission bits of the socket file, in octal (default: 0660).")
    var socketMode: String?

    @Option(
        name: .customLong("data-dir"),
        help: "Where the mapping store and default shard files live (default: ./collegedb-data)."
    )
    var dataDirectory: String?

    @Option(
        name: .customLong("shard"),
        help: """
            A shard: NAME, NAME=PATH (SQLite) or NAME=postgresql://USER@HOST:PORT/DB; repeatable, in shard order. \
            NAME: 1 to 128 of A-Z a-z 0-9 - _ . (not . or ..).
            """
    )
    var shards: [String] = []

    @Option(
        help: ArgumentHelp(
            "A PostgreSQL catalog shared by every daemon started with it: postgresql://USER@HOST:PORT/DB.",
            discussion:
                "Every shard must then be a PostgreSQL shard (default: DATA_DIR/mapping.sqlite, this daemon's own)."
        )
    )
    var catalog: String?

    @Option(help: "A file holding the catalog's password on its first line (default: PGPASSFILE or ~/.pgpass).")
    var catalogPasswordFile: String?

    @Option(help: "The strategy for reads and writes (default: hash).")
    var strategy: StrategyKind?

    @Option(help: "The strategy for reads (a mixed strategy).")
    var readStrategy: StrategyKind?

    @Option(help: "The strategy for writes (a mixed strategy).")
    var writeStrategy: StrategyKind?

    @Option(help: "The region the location strategy routes towards.")
    var targetRegion: String?

    @Option(name: .customLong("shard-location"), help: "NAME=REGION[:PRIORITY] for the location strategy; repeatable.")
    var shardLocations: [String] = []

    @Option(
        name: .customLong("owner"),
        help: "TABLE=COLUMN: the column of TABLE holding the key, for reassignShard; repeatable."
    )
    var owners: [String] = []

    @Option(help: "Shards at or over this many bytes get no new keys.")
    var maxDatabaseSize: Int64?

    @Flag(help: "Keep mapping keys in plain text instead of SHA-256 digests.")
    var noHashKeys = false

    @Flag(help: "Digest mapping keys with HMAC-SHA256 under a secret kept in DATA_DIR/mapping.key.")
    var keyedDigest = false

    @Flag(help: "Let flush and clearAllMappings run (development only).")
    var allowFlush = false

    @Option(help: "The longest request line accepted, in bytes (default: 16777216).")
    var maxLineBytes: Int?

    @Option(help: "Connections served at once; administrators may take 8 more (default: 1024).")
    var maxConnections: Int?

    @Option(
        help: """
            SQLite shards kept open at once; the others hold no file and open on first use, closing the least \
            recently used (default: 256).
            """
    )
    var maxOpenShards: Int?

    @Option(
        name: .customLong("shard-directory"),
        help: "Every *.sqlite file in this directory is a shard named after the file, after the --shard ones."
    )
    var shardDirectory: String?

    @Option(help: "Connections one user may hold at once; root and the daemon's user are exempt (default: 256).")
    var maxConnectionsPerUser: Int?

    @Option(help: "The least severe log messages written (default: info).")
    var logLevel: Logger.Level?

    @Option(help: "full: an acknowledged write survives a power loss (default); normal: a crash of the daemon only.")
    var durability: ShardSettings.Durability?

    @Option(help: "Seconds a statement (or a batch) may run before it is interrupted (default: 5).")
    var statementTimeout: Double?

    @Option(
        name: .customLong("allow-pragma"),
        help: "A database-state PRAGMA clients may set (user_version, optimize, ...); repeatable."
    )
    var allowedPragmas: [String] = []

    @Option(
        name: .customLong("allow-uid"),
        help:
            "A user id that may connect; repeatable. With none (and no --allow-group), any peer that can open the socket may."
    )
    var allowedUsers: [UInt32] = []

    @Option(name: .customLong("allow-group"), help: "A group (name or id) whose members may connect; repeatable.")
    var allowedGroups: [String] = []

    @Option(
        name: .customLong("admin-uid"),
        help:
            "A user id that may call the methods that change the layout or the mappings; repeatable. With none (and no --admin-group), every allowed peer may."
    )
    var administratorUsers: [UInt32] = []

    @Option(
        name: .customLong("admin-group"),
        help: "A group (name or id) whose members may call the administrative methods; repeatable."
    )
    var administratorGroups: [String] = []
}
