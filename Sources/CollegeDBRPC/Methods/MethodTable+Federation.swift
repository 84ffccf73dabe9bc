import CollegeDB
import CollegeDBJSON

extension MethodTable {
    /// `federateQuery` and `federateCount`.
    static let federationMethods: [RPCMethod] = [
        RPCMethod(
            "federateQuery",
            "Runs a read on every shard and merges the rows: ordered by a result column, then cut by offset and limit.",
            parameters: [
                sqlParameter, bindingsParameter,
                .optional(
                    "options",
                    .object,
                    "{orderBy, direction (asc or desc), limit, offset}: orderBy must name a result column"
                ),
                timeoutParameter,
            ],
            result: "all-style result; meta.total = rows before the cut, meta.errors = failed shards"
        ) { arguments, database in
            let result = try await database.federateQuery(
                arguments.statement(),
                options: try federationOptions(arguments["options"]),
                limits: arguments.limits()
            )
            return .object([
                ("success", .bool(true)),
                ("results", .array(result.rows.map { ResultEncoding.row($0, columns: result.columns) })),
                (
                    "meta",
                    .object([
                        ("shards", .array(result.shards.map(JSONValue.string))),
                        ("total", result.total.map { .integer(Int64($0)) } ?? .null),
                        (
                            "errors",
                            .array(
                                result.errors.map {
                                    .object([("shard", .string($0.shard)), ("error", JSONRPCError($0.error).json)])
                                }
                            )
                        ),
                        ("duration", .double(result.durationMilliseconds)),
                    ])
                ),
            ])
        },
        RPCMethod(
            "federateCount",
            "Runs a statement that returns one integer on every shard and sums them.",
            parameters: [sqlParameter, bindingsParameter, timeoutParameter],
            result: "{total, shards: [{shard, count, error?}]}"
        ) { arguments, database in
            let result = try await database.federateCount(arguments.statement(), limits: arguments.limits())
            return .object([
                ("total", .integer(result.total)),
                (
                    "shards",
                    .array(
                        result.shards.map { entry in
                            switch entry.count {
                            case .success(let count):
                                return .object([("shard", .string(entry.shard)), ("count", .integer(count))])
                            case .failure(let error):
                                return .object([
                                    ("shard", .string(entry.shard)), ("count", .null),
                                    ("error", JSONRPCError(error).json),
                                ])
                            }
                        }
                    )
                ),
            ])
        },
    ]

    /// The `options` of `federateQuery`, each member checked.
    static func federationOptions(_ value: JSONValue?) throws(JSONRPCError) -> FederationOptions {
        guard case .object(let members)? = value else { return FederationOptions() }
        var options = FederationOptions()
        for (name, member) in members {
            switch (name, member) {
            case (_, .null):
                continue
            case ("orderBy", .string(let column)):
                options.orderBy = column
            case ("direction", .string(let direction)):
                switch direction.lowercased() {
                case "asc": options.descending = false
                case "desc": options.descending = true
                default: throw .invalidParams("options.direction: must be asc or desc")
                }
            case ("limit", .integer(let limit)) where limit >= 0:
                options.limit = Int(limit)
            case ("offset", .integer(let offset)) where offset >= 0:
                options.offset = Int(offset)
            case ("orderBy", _), ("direction", _):
                throw .invalidParams("options.\(name): must be string")
            case ("limit", _), ("offset", _):
                throw .invalidParams("options.\(name): must be an integer >= 0")
            default:
                throw .invalidParams("options: unknown member '\(name)' (known: orderBy, direction, limit, offset)")
            }
        }
        return options
    }
}
