import CollegeDB
import CollegeDBJSON

extension MethodTable {
    /// The shard registry and the statistics it keeps.
    static let registryMethods: [RPCMethod] = [
        RPCMethod(
            "registerShard",
            "Adds a shard at the end of the shard order; a new SQLite file under the data directory when no path is given.",
            parameters: [shardParameter, .optional("path", .string, "an existing or new SQLite file")],
            result: "{success: true}",
            administrative: true
        ) { arguments, database in
            try await database.registerShard(arguments.requiredString("shard"), path: arguments.string("path"))
            return ResultEncoding.success()
        },
        RPCMethod(
            "unregisterShard",
            "Removes a shard (its file is kept); refused with SHARD_NOT_EMPTY while keys map to it, unless forced.",
            parameters: [shardParameter, .optional("force", .boolean, "remove even while keys map to it")],
            result: "{success: true}",
            administrative: true
        ) { arguments, database in
            try await database.unregisterShard(
                arguments.requiredString("shard"),
                force: arguments.boolean("force") ?? false
            )
            return ResultEncoding.success()
        },
        RPCMethod(
            "updateShardStats",
            "Overrides the recorded record count of a shard.",
            parameters: [shardParameter, .required("count", .integer, "the count, >= 0")],
            result: "{success: true}",
            administrative: true
        ) { arguments, database in
            try await database.updateShardStats(arguments.requiredString("shard"), count: arguments.integer("count")!)
            return ResultEncoding.success()
        },
        RPCMethod(
            "incrementShardCount",
            "Adds one to the recorded record count of a shard.",
            parameters: [shardParameter],
            result: "{success: true}",
            administrative: true
        ) { arguments, database in
            try await database.incrementShardCount(arguments.requiredString("shard"))
            return ResultEncoding.success()
        },
        RPCMethod(
            "decrementShardCount",
            "Subtracts one from the recorded record count of a shard, never below 0.",
            parameters: [shardParameter],
            result: "{success: true}",
            administrative: true
        ) { arguments, database in
            try await database.decrementShardCount(arguments.requiredString("shard"))
            return ResultEncoding.success()
        },
        RPCMethod(
            "getShardMetadata",
            "Per shard: key count, health, active connections, query and error counts, size, last update; "
                + "its backend and location, and for a PostgreSQL shard its pool's use.",
            parameters: [shardPageParameter],
            result:
                "[{shardId, binding, backend, location, keyCount, health, activeConnections, pool?, queryCount, "
                + "errorCount, sizeBytes, lastUpdated}]; with options, {shards: [...], cursor}"
        ) { arguments, database in
            guard let page = try shardPage(arguments) else {
                return .array(try await database.shardMetadata().map(encodedMetadata))
            }
            let found = try await database.shardMetadata(limit: page.limit, after: page.cursor)
            return .object([
                ("shards", .array(found.shards.map(encodedMetadata))),
                ("cursor", found.cursor.map(JSONValue.string) ?? .null),
            ])
        },
    ]

    /// One shard's metadata on the wire.
    private static func encodedMetadata(_ metadata: ShardMetadata) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("shardId", .string(metadata.shard)),
            ("binding", .string(metadata.shard)),
            ("backend", .string(metadata.backend.rawValue)),
            ("location", .string(metadata.location)),
            ("keyCount", .integer(metadata.keyCount)),
            ("health", .string(metadata.health.rawValue)),
            ("problem", metadata.problem.map(JSONValue.string) ?? .null),
            ("activeConnections", .integer(Int64(metadata.activeConnections))),
        ]
        if let pool = metadata.connectionPool {
            members.append(
                (
                    "pool",
                    .object([
                        ("inUse", .integer(Int64(pool.inUse))),
                        ("waiting", .integer(Int64(pool.waiting))),
                        ("maximum", .integer(Int64(pool.maximum))),
                    ])
                )
            )
        }
        members += [
            ("commits", .integer(Int64(metadata.commits))),
            ("writesCommitted", .integer(Int64(metadata.writesCommitted))),
            ("queryCount", .integer(Int64(metadata.queryCount))),
            ("errorCount", .integer(Int64(metadata.errorCount))),
            ("sizeBytes", metadata.sizeBytes.map(JSONValue.integer) ?? .null),
            ("lastUpdated", metadata.lastUpdated.map(JSONValue.integer) ?? .null),
        ]
        return .object(members)
    }
}
