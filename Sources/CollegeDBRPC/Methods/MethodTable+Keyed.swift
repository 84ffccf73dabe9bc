import CollegeDB

extension MethodTable {
    static let keyParameter = MethodParameter.required("key", .string, "the lookup key that routes the call")
    static let sqlParameter = MethodParameter.required("sql", .string, "exactly one SQL statement")
    static let bindingsParameter = MethodParameter.optional(
        "bindings", .array, "positional values: null, integers, reals, strings, booleans, {\"$blob\": base64}")

    /// The methods routed by key.
    static let keyedMethods: [RPCMethod] = [
        RPCMethod(
            "run", "Runs a statement on the key's shard, allocating an unmapped key.",
            parameters: [keyParameter, sqlParameter, bindingsParameter], result: "run-style result"
        ) { arguments, database in
            ResultEncoding.runStyle(try await database.run(key: arguments.requiredString("key"), arguments.statement()))
        },
        RPCMethod(
            "all", "Runs a statement on the key's shard and returns every row.",
            parameters: [keyParameter, sqlParameter, bindingsParameter], result: "all-style result"
        ) { arguments, database in
            ResultEncoding.allStyle(try await database.all(key: arguments.requiredString("key"), arguments.statement()))
        },
        RPCMethod(
            "first", "Runs a statement on the key's shard and returns the first row or null.",
            parameters: [keyParameter, sqlParameter, bindingsParameter], result: "a row or null"
        ) { arguments, database in
            ResultEncoding.firstStyle(try await database.first(key: arguments.requiredString("key"), arguments.statement()))
        },
        RPCMethod(
            "prepare", "Compiles a statement on the key's shard without running it.",
            parameters: [keyParameter, sqlParameter], result: "{shard, parameterCount, columns, readOnly}"
        ) { arguments, database in
            let description = try await database.prepare(
                key: arguments.requiredString("key"), sql: arguments.requiredString("sql"))
            return .object([
                ("shard", .string(description.shard)),
                ("parameterCount", .integer(Int64(description.parameterCount))),
                ("columns", .array(description.columns.map(JSONValue.string))),
                ("readOnly", .bool(description.readOnly)),
            ])
        },
        RPCMethod(
            "batch", "Runs statements on the key's shard in one transaction: all commit or none.",
            parameters: [
                keyParameter,
                .required("statements", .array, "[{sql, bindings?}], run in order"),
            ],
            result: "an array of all-style results, one per statement"
        ) { arguments, database in
            let statements = try batchStatements(arguments["statements"])
            let results = try await database.batch(key: arguments.requiredString("key"), statements)
            return .array(results.map(ResultEncoding.allStyle))
        },
    ]

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
                SQLStatement(sql: sql, bindings: try MethodArguments.bindings(bindings, name: "statements[\(index)].bindings")))
        }
        return statements
    }
}
