import CollegeDB
import CollegeDBJSON

extension MethodTable {
    /// Allocation, statistics and administration.
    static let coordinatorMethods: [RPCMethod] = [
        RPCMethod(
            "allocate",
            "Returns the key's mapping, or creates and persists one.",
            parameters: [
                .required("primaryKey", .string, "the key to allocate"),
                .optional("strategy", .string, "hash, round-robin, random or location; default: the configured one"),
                .optional("operationType", .string, "read or write (default): which configured strategy applies"),
            ],
            result: "{shard, created}"
        ) { arguments, database in
            let strategy = try arguments.string("strategy").map { name throws(JSONRPCError) in
                guard let kind = StrategyKind(rawValue: name) else {
                    throw .invalidParams("strategy: must be one of hash, round-robin, random, location")
                }
                return kind
            }
            let operation = try arguments.string("operationType").map { name throws(JSONRPCError) in
                guard let operation = OperationType(rawValue: name) else {
                    throw .invalidParams("operationType: must be read or write")
                }
                return operation
            }
            let allocation = try await database.allocate(
                primaryKey: arguments.requiredString("primaryKey"),
                strategy: strategy,
                operation: operation ?? .write
            )
            return .object([("shard", .string(allocation.shard)), ("created", .bool(allocation.created))])
        },
        RPCMethod("listKnownShards", "The known shards, in shard order.", result: "an array of names") { _, database in
            .array(await database.listKnownShards().map(JSONValue.string))
        },
        RPCMethod(
            "getShardStats",
            "Per shard: distinct records mapped to it, and when that last changed.",
            parameters: [shardPageParameter],
            result: "[{binding, count, lastUpdated}]; with options, {shards: [...], cursor}"
        ) { arguments, database in
            func encoded(_ statistics: ShardStatistics) -> JSONValue {
                .object([
                    ("binding", .string(statistics.shard)),
                    ("count", .integer(statistics.count)),
                    ("lastUpdated", statistics.lastUpdated.map(JSONValue.integer) ?? .null),
                ])
            }
            guard let page = try shardPage(arguments) else {
                return .array(try await database.shardStatistics().map(encoded))
            }
            let found = try await database.shardStatistics(limit: page.limit, after: page.cursor)
            return .object([
                ("shards", .array(found.shards.map(encoded))), ("cursor", found.cursor.map(JSONValue.string) ?? .null),
            ])
        },
        RPCMethod(
            "flush",
            "Clears every mapping and the coordinator's state, never shard data (development only).",
            parameters: [.required("confirm", .boolean, "must be true")],
            result: "{success: true}",
            administrative: true
        ) { arguments, database in
            try await database.flush(confirm: arguments.boolean("confirm") ?? false)
            return ResultEncoding.success()
        },
        RPCMethod(
            "health",
            "The state of the mapping store and of each shard.",
            result:
                "{status, mappingStore, shards, shardCounts, uptimeSeconds, version, backup?: {directory, copied, shards}}"
        ) {
            _,
            database in
            healthAnswer(await database.health(), backup: database.runningBackup())
        },
    ]

    /// `options` of the methods that report every shard: `{limit, cursor}` asks for one page.
    static let shardPageParameter = MethodParameter.optional(
        "options",
        .object,
        "{limit (1 to \(CollegeDB.maximumShardPage), default 100), cursor}: one page, answered as {shards, cursor}"
    )

    /// The page `options` asks for, or nil for every shard at once.
    static func shardPage(_ arguments: MethodArguments) throws(JSONRPCError) -> (limit: Int, cursor: String?)? {
        guard case .object(let members)? = arguments["options"] else { return nil }
        var limit = 100
        var cursor: String?
        for (name, value) in members {
            switch (name, value) {
            case (_, .null): continue
            case ("limit", .integer(let count)) where (1...Int64(CollegeDB.maximumShardPage)).contains(count):
                limit = Int(count)
            case ("limit", _):
                throw .invalidParams("options.limit: must be an integer from 1 to \(CollegeDB.maximumShardPage)")
            case ("cursor", .string(let text)): cursor = text
            case ("cursor", _): throw .invalidParams("options.cursor: must be a string from an earlier page")
            default: throw .invalidParams("options: unknown member '\(name)' (known: limit, cursor)")
            }
        }
        return (limit, cursor)
    }

    /// With more shards than this, `health.shards` lists only the shards that are not ok:
    /// 1,000.
    static let healthListsEveryShardUpTo = 1000

    /// `health`'s answer: the shards' states (all of them, or past
    /// ``healthListsEveryShardUpTo`` only those not ok), their counts by state, and a backup
    /// under way.
    static func healthAnswer(_ report: HealthReport, backup: BackupProgress?) -> JSONValue {
        let listed =
            report.shards.count > healthListsEveryShardUpTo ? report.shards.filter { $0.health != .ok } : report.shards
        var counts: [String: Int64] = [:]
        for shard in report.shards { counts[shard.health.rawValue, default: 0] += 1 }
        var members: [(String, JSONValue)] = [
            ("status", .string(report.status.rawValue)),
            ("mappingStore", .string(report.mappingStoreHealthy ? "ok" : "unavailable")),
            ("shards", .object(listed.map { ($0.name, .string($0.health.rawValue)) })),
            ("shardCounts", .object(counts.sorted { $0.key < $1.key }.map { ($0.key, .integer($0.value)) })),
            ("uptimeSeconds", .double(report.uptimeSeconds)),
            ("version", .string(report.version)),
        ]
        // A backup under way, for `collegedb top`.
        if let backup {
            members.append(
                (
                    "backup",
                    .object([
                        ("directory", .string(backup.directory)), ("copied", .integer(Int64(backup.copied))),
                        ("shards", .integer(Int64(backup.shards))),
                    ])
                )
            )
        }
        return .object(members)
    }
}
