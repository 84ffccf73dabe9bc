import CollegeDB
import CollegeDBJSON

extension MethodTable {
    static let keyParameter = MethodParameter.required("key", .string, "the lookup key that routes the call")
    static let sqlParameter = MethodParameter.required("sql", .string, "exactly one SQL statement")
    static let bindingsParameter = MethodParameter.optional(
        "bindings",
        .array,
        "positional values: null, integers, reals, strings, booleans, {\"$blob\": base64}"
    )

    static let timeoutParameter = MethodParameter.optional(
        "timeout",
        .number,
        "seconds the call's statements may run; the daemon's --statement-timeout still applies when shorter"
    )

    /// The methods routed by key.
    static let keyedMethods: [RPCMethod] = [
        keyedMethod(
            "run",
            queuesOnEventLoop: true,
            "Runs a statement on the key's shard, allocating an unmapped key.",
            result: "run-style result",
            rowLimit: nil,
            shape: ResultEncoding.runStyle
        ) { database, key, statement, limits in try await database.run(key: key, statement, limits: limits) },
        keyedMethod(
            "all",
            readsOnEventLoop: true,
            "Runs a statement on the key's shard and returns every row.",
            result: "all-style result",
            rowLimit: nil,
            shape: ResultEncoding.allStyle
        ) { database, key, statement, limits in try await database.all(key: key, statement, limits: limits) },
        keyedMethod(
            "first",
            readsOnEventLoop: true,
            "Runs a statement on the key's shard and returns the first row or null.",
            result: "a row or null",
            rowLimit: 1,
            shape: ResultEncoding.firstStyle
        ) { database, key, statement, limits in try await database.first(key: key, statement, limits: limits) },
        RPCMethod(
            "prepare",
            "Compiles a statement on the key's shard without running it.",
            parameters: [keyParameter, sqlParameter],
            result: "{shard, parameterCount, columns, readOnly}"
        ) { arguments, database in
            let description = try await database.prepare(
                key: arguments.requiredString("key"),
                sql: arguments.requiredString("sql")
            )
            return .object([
                ("shard", .string(description.shard)),
                ("parameterCount", .integer(Int64(description.parameterCount))),
                ("columns", .array(description.columns.map(JSONValue.string))),
                ("readOnly", .bool(description.readOnly)),
            ])
        },
        RPCMethod(
            "batch",
            "Runs statements on the key's shard in one transaction: all commit or none.",
            parameters: [
                keyParameter,
                .required("statements", .array, "[{sql, bindings?}], run in order"),
                timeoutParameter,
            ],
            result: "an array of all-style results, one per statement"
        ) { arguments, database in
            let statements = try batchStatements(arguments["statements"])
            let results = try await database.batch(
                key: arguments.requiredString("key"),
                statements,
                limits: arguments.limits()
            )
            return .array(results.map(ResultEncoding.allStyle))
        },
    ]

    /// A method routed by key whose mapped-key case is served synchronously.
    private static func keyedMethod(
        _ name: String,
        readsOnEventLoop: Bool = false,
        queuesOnEventLoop: Bool = false,
        _ summary: String,
        result: String,
        rowLimit: Int?,
        shape: @escaping @Sendable (QueryResult) -> JSONValue,
        routed: @escaping @Sendable (CollegeDB, String, SQLStatement, QueryLimits) async throws -> QueryResult
    ) -> RPCMethod {
        let onEventLoop: RPCMethod.BlockingHandler = { arguments, database in
            try database.executeMapped(
                key: arguments.requiredString("key"),
                arguments.statement(),
                rowLimit: rowLimit,
                limits: arguments.limits(),
                onEventLoop: true
            ).map(shape)
        }
        let queueOnEventLoop: RPCMethod.QueuingHandler = { arguments, database, completion in
            try database.enqueueMappedWrite(
                key: arguments.requiredString("key"),
                arguments.statement(),
                rowLimit: rowLimit,
                limits: arguments.limits()
            ) { outcome in
                completion(outcome.map(shape).mapError { $0 })
            }
        }
        return RPCMethod(
            name,
            summary,
            parameters: [keyParameter, sqlParameter, bindingsParameter, timeoutParameter],
            result: result,
            blockingHandler: { arguments, database in
                try database.executeMapped(
                    key: arguments.requiredString("key"),
                    arguments.statement(),
                    rowLimit: rowLimit,
                    limits: arguments.limits()
                ).map(shape)
            },
            eventLoopHandler: readsOnEventLoop ? onEventLoop : nil,
            eventLoopQueuingHandler: queuesOnEventLoop ? queueOnEventLoop : nil,
            servedOnlyAsynchronously: { arguments, database in
                database.isServedOnlyAsynchronously(key: arguments.requiredString("key"))
            },
            handler: { arguments, database in
                shape(
                    try await routed(
                        database,
                        arguments.requiredString("key"),
                        arguments.statement(),
                        arguments.limits()
                    )
                )
            }
        )
    }

    private static func batchStatements(_ value: JSONValue?) throws(JSONRPCError) -> [SQLStatement] {
        guard case .array(let elements)? = value, !elements.isEmpty else {
            throw .invalidParams("statements: must be a non-empty array")
        }
        var statements: [SQLStatement] = []
        for (index, element) in elements.enumerated() {
            guard case .object(let members) = element, case .string(let sql)? = element["sql"],
                members.allSatisfy({ $0.0 == "sql" || $0.0 == "bindings" })
            else {
                throw .invalidParams("statements[\(index)]: must be {\"sql\": string, \"bindings\"?: array}")
            }
            let bindings = element["bindings"] ?? .null
            switch bindings {
            case .null, .array: break
            default: throw .invalidParams("statements[\(index)].bindings: must be array, got \(bindings.typeName)")
            }
            statements.append(
                SQLStatement(
                    sql: sql,
                    bindings: try MethodArguments.bindings(bindings, name: "statements[\(index)].bindings")
                )
            )
        }
        return statements
    }
}
