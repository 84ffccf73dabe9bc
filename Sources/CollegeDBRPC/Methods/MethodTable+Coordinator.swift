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
            result: "[{binding, count, lastUpdated}]"
        ) { _, database in
            .array(
                try await database.shardStatistics().map { statistics in
                    .object([
                        ("binding", .string(statistics.shard)),
                        ("count", .integer(statistics.count)),
                        ("lastUpdated", statistics.lastUpdated.map(JSONValue.integer) ?? .null),
                    ])
                }
            )
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
            result: "{status, shards, uptimeSeconds, version, backup?: {directory, copied, shards}}"
        ) {
            _,
            database in
            let report = await database.health()
            var members: [(String, JSONValue)] = [
                ("status", .string(report.status.rawValue)),
                ("mappingStore", .string(report.mappingStoreHealthy ? "ok" : "unavailable")),
                ("shards", .object(report.shards.map { ($0.name, .string($0.health.rawValue)) })),
                ("uptimeSeconds", .double(report.uptimeSeconds)),
                ("version", .string(report.version)),
            ]
            // A backup under way, for `collegedb top`.
            if let backup = database.runningBackup() {
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
        },
    ]
}
