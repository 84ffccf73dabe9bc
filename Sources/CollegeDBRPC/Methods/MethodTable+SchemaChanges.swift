import CollegeDB
import CollegeDBJSON

extension MethodTable {
    /// Schema changes recorded once and applied to every shard in the background.
    static let schemaChangeMethods: [RPCMethod] = [
        RPCMethod(
            "applySchemaChange",
            "Records a schema change and applies it to every shard in the background, exactly once each, in the order recorded.",
            parameters: [
                .required("name", .string, "the change's name, unique among changes"),
                .required("sql", .string, "SQL statements, under the policy of createSchema"),
                .optional("options", .object, "{canary: n}: apply to n shards, then stop at paused until called again"),
            ],
            result: "the status, as getSchemaChangeStatus",
            administrative: true
        ) { arguments, database in
            var canary: Int?
            if case .object(let members)? = arguments["options"] {
                for (name, value) in members {
                    switch (name, value) {
                    case (_, .null): continue
                    case ("canary", .integer(let count)) where count >= 1 && count <= Int64(Int32.max):
                        canary = Int(count)
                    case ("canary", _):
                        throw JSONRPCError.invalidParams("options.canary: must be an integer from 1 to \(Int32.max)")
                    default: throw JSONRPCError.invalidParams("options: unknown member '\(name)' (known: canary)")
                    }
                }
            }
            return schemaChangeStatus(
                try await database.applySchemaChange(
                    name: arguments.requiredString("name"),
                    sql: arguments.requiredString("sql"),
                    canary: canary
                )
            )
        },
        RPCMethod(
            "getSchemaChangeStatus",
            "A schema change's state, how many shards have it and lack it, and the shards it failed on.",
            parameters: [.optional("name", .string, "the change (default: the latest)")],
            result: "{name, state, shards, applied, pending, failures: [{shard, error}], createdAt}, or null when none"
        ) { arguments, database in
            schemaChangeStatus(try await database.schemaChangeStatus(name: arguments.string("name")))
        },
        RPCMethod(
            "listSchemaChanges",
            "Every recorded schema change, oldest first.",
            parameters: [],
            result: "[{name, state, createdAt}]"
        ) { _, database in
            .array(
                try await database.listSchemaChanges().map { change in
                    .object([
                        ("name", .string(change.name)), ("state", .string(change.state.rawValue)),
                        ("createdAt", .integer(change.createdAt)),
                    ])
                }
            )
        },
    ]

    /// A shard a change failed on, on the wire.
    private static func failure(_ failure: SchemaChangeFailure) -> JSONValue {
        .object([("shard", .string(failure.shard)), ("error", .string(failure.error))])
    }

    /// A schema change's status on the wire, or null.
    static func schemaChangeStatus(_ status: SchemaChangeStatus?) -> JSONValue {
        guard let status else { return .null }
        return .object([
            ("name", .string(status.name)),
            ("state", .string(status.state.rawValue)),
            ("shards", .integer(Int64(status.shards))),
            ("applied", .integer(Int64(status.applied))),
            ("pending", .integer(Int64(status.pending))),
            ("failures", .array(status.failures.map(failure))),
            ("createdAt", .integer(status.createdAt)),
        ])
    }
}
