import CollegeDB
import CollegeDBJSON

extension MethodTable {
    static let shardParameter = MethodParameter.required("shard", .string, "a shard name")
    static let batchSizeParameter = MethodParameter.optional(
        "batchSize",
        .integer,
        "how many shards run at once (default 50, >= 1)"
    )

    /// The direct and fan-out methods.
    static let shardMethods: [RPCMethod] = [
        directMethod(
            "runShard",
            "Runs a statement on the named shard.",
            result: "run-style result",
            rowLimit: nil,
            ResultEncoding.runStyle
        ),
        directMethod(
            "allShard",
            "Runs a statement on the named shard and returns every row.",
            result: "all-style result",
            rowLimit: nil,
            ResultEncoding.allStyle
        ),
        directMethod(
            "firstShard",
            "Runs a statement on the named shard and returns the first row or null.",
            result: "a row or null",
            rowLimit: 1,
            ResultEncoding.firstStyle
        ),
        fanOutMethod("runAllShards", "Runs a statement on every shard.", rowLimit: nil) { entry in
            ResultEncoding.fanOutEntry(entry, shape: ResultEncoding.runStyle)
        },
        fanOutMethod("allAllShards", "Runs a statement on every shard and returns each shard's rows.", rowLimit: nil) {
            entry in
            ResultEncoding.fanOutEntry(entry, shape: ResultEncoding.allStyle)
        },
        fanOutMethod(
            "firstAllShards",
            "Runs a statement on every shard and returns each shard's first row.",
            rowLimit: 1,
            ResultEncoding.firstFanOutEntry
        ),
        RPCMethod(
            "getDatabaseSizeForShard",
            "The shard's size in bytes (page_count * page_size).",
            parameters: [shardParameter],
            result: "an integer"
        ) { arguments, database in
            .integer(try await database.databaseSize(shard: arguments.requiredString("shard")))
        },
        RPCMethod(
            "createSchema",
            "Runs a schema script on every shard, or on the named one; each shard in one transaction.",
            parameters: [
                .required("schema", .string, "SQL statements; comments, quoted ';' and triggers are handled"),
                .optional("shard", .string, "only this shard"),
                timeoutParameter,
            ],
            result: "{shards, statements}",
            administrative: true
        ) { arguments, database in
            let result = try await database.createSchema(
                arguments.requiredString("schema"),
                shard: arguments.string("shard"),
                limits: arguments.limits()
            )
            return .object([
                ("shards", .array(result.shards.map(JSONValue.string))),
                ("statements", .integer(Int64(result.statements))),
            ])
        },
    ]

    private static func directMethod(
        _ name: String,
        _ summary: String,
        result: String,
        rowLimit: Int?,
        _ shape: @escaping @Sendable (QueryResult) -> JSONValue
    ) -> RPCMethod {
        RPCMethod(
            name,
            summary,
            parameters: [shardParameter, sqlParameter, bindingsParameter, timeoutParameter],
            result: result
        ) {
            arguments,
            database in
            shape(
                try await database.execute(
                    onShard: arguments.requiredString("shard"),
                    arguments.statement(),
                    rowLimit: rowLimit,
                    limits: arguments.limits()
                )
            )
        }
    }

    private static func fanOutMethod(
        _ name: String,
        _ summary: String,
        rowLimit: Int?,
        _ entry: @escaping @Sendable (FanOutResult) -> JSONValue
    ) -> RPCMethod {
        RPCMethod(
            name,
            summary + " One failing shard fails only its own entry.",
            parameters: [sqlParameter, bindingsParameter, batchSizeParameter, timeoutParameter],
            result: "an array with one entry per shard, in shard order"
        ) { arguments, database in
            let batchSize = arguments.integer("batchSize") ?? Int64(CollegeDB.defaultFanOutBatchSize)
            let results = try await database.executeOnAllShards(
                arguments.statement(),
                batchSize: Int(batchSize),
                rowLimit: rowLimit,
                limits: arguments.limits()
            )
            return .array(results.map(entry))
        }
    }
}
