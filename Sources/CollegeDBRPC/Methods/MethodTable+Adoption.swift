import CollegeDB
import CollegeDBJSON

extension MethodTable {
    static let adoptionOptionsParameter = MethodParameter.optional(
        "options",
        .object,
        "{tables: [table], primaryKeyColumn, dryRun}"
    )

    /// Drop-in adoption of existing SQLite databases as shards.
    static let adoptionMethods: [RPCMethod] = [
        RPCMethod(
            "listTables",
            "The user's tables of a shard (SQLite's and the daemon's own left out).",
            parameters: [shardParameter],
            result: "[table]"
        ) { arguments, database in
            .array(try await database.listTables(shard: arguments.requiredString("shard")).map(JSONValue.string))
        },
        RPCMethod(
            "validateTableForSharding",
            "Whether a table can be sharded by key, and exactly why not, with what would make it work.",
            parameters: [
                shardParameter, .required("table", .string, "a table of the shard"),
                .optional("primaryKeyColumn", .string, "the column holding each row's key (default: --owner, else id)"),
            ],
            result: "{tableName, isValid, keyColumn, issues: [string], recordCount}"
        ) { arguments, database in
            validation(
                try await database.validateTableForSharding(
                    shard: arguments.requiredString("shard"),
                    table: arguments.requiredString("table"),
                    primaryKeyColumn: arguments.string("primaryKeyColumn")
                )
            )
        },
        RPCMethod(
            "discoverExistingPrimaryKeys",
            "One page of a table's distinct keys, in order; complete over any number of rows.",
            parameters: [
                shardParameter, .required("table", .string, "a table of the shard"),
                .optional("primaryKeyColumn", .string, "the column holding each row's key (default: --owner, else id)"),
                .optional("limit", .integer, "keys per page (default 1000, at most 10000)"),
                .optional("cursor", .string, "the cursor of the previous page"),
            ],
            result: "{keys: [string], cursor}: cursor is null after the last page"
        ) { arguments, database in
            let page = try await database.discoverExistingPrimaryKeys(
                shard: arguments.requiredString("shard"),
                table: arguments.requiredString("table"),
                primaryKeyColumn: arguments.string("primaryKeyColumn"),
                limit: Int(clamping: arguments.integer("limit") ?? 1000),
                cursor: arguments.string("cursor")
            )
            return .object([
                ("keys", .array(page.keys.map(JSONValue.string))),
                ("cursor", page.cursor.map(JSONValue.string) ?? .null),
            ])
        },
        RPCMethod(
            "integrateExistingDatabase",
            "Maps every existing key of the shard's owned tables to it, while serving; answers when done.",
            parameters: [shardParameter, adoptionOptionsParameter],
            result:
                "{success, shardBinding, tablesProcessed, totalRecords, mappingsCreated, alreadyMapped, conflictCount, conflicts: [{key, shard, mappedTo}], skipped: [validation], dryRun}",
            administrative: true
        ) { arguments, database in
            let options = try adoptionOptions(arguments["options"])
            let adoption = try await database.integrateExistingDatabase(
                shard: arguments.requiredString("shard"),
                tables: options.tables,
                primaryKeyColumn: options.primaryKeyColumn,
                dryRun: options.dryRun
            )
            return integration(adoption, dryRun: options.dryRun)
        },
        RPCMethod(
            "createMappingsForExistingKeys",
            "Assigns each key to one of the shards by the strategy and maps it there; mapped keys are left alone.",
            parameters: [
                .required("keys", .array, "keys whose rows exist on those shards"),
                .required("shards", .array, "the shards to assign them among"),
                .optional("strategy", .string, "hash, round-robin, random or location (default: the write strategy)"),
            ],
            result: "{success, mappingsCreated, alreadyMapped, conflictCount, conflicts: [{key, shard, mappedTo}]}",
            administrative: true
        ) { arguments, database in
            let strategy = try arguments.string("strategy").map { text throws(JSONRPCError) in
                guard let kind = StrategyKind(rawValue: text) else {
                    throw .invalidParams("strategy: must be hash, round-robin, random or location")
                }
                return kind
            }
            let summary = try await database.createMappingsForExistingKeys(
                try arguments.strings("keys"),
                shards: try arguments.strings("shards"),
                strategy: strategy
            )
            return .object([
                ("success", .bool(true)),
                ("mappingsCreated", .integer(Int64(summary.mappingsCreated))),
                ("alreadyMapped", .integer(Int64(summary.alreadyMapped))),
                ("conflictCount", .integer(Int64(summary.conflictCount))),
                ("conflicts", conflicts(summary.conflicts)),
            ])
        },
        RPCMethod(
            "autoDetectAndMigrate",
            "Adopts the shard when it holds rows in owned tables that were never adopted.",
            parameters: [shardParameter, adoptionOptionsParameter],
            result:
                "{migrationNeeded, migrationPerformed, recordsMigrated, tablesProcessed, issues: [string], adoption}",
            administrative: true
        ) { arguments, database in
            let options = try adoptionOptions(arguments["options"])
            let outcome = try await database.autoDetectAndMigrate(
                shard: arguments.requiredString("shard"),
                tables: options.tables,
                primaryKeyColumn: options.primaryKeyColumn,
                dryRun: options.dryRun
            )
            let summary = outcome.adoption?.summary
            return .object([
                ("migrationNeeded", .bool(outcome.needed)),
                ("migrationPerformed", .bool(outcome.adoption != nil && !options.dryRun)),
                ("recordsMigrated", .integer(Int64(summary?.mappingsCreated ?? 0))),
                ("tablesProcessed", .integer(Int64(summary?.tables.count ?? 0))),
                (
                    "issues",
                    .array(
                        (outcome.adoption?.skipped ?? []).map {
                            .string("\($0.table): \($0.issues.joined(separator: "; "))")
                        }
                    )
                ),
                ("adoption", outcome.adoption.map { integration($0, dryRun: options.dryRun) } ?? .null),
            ])
        },
        RPCMethod(
            "checkMigrationNeeded",
            "Whether the shard holds rows in owned tables that were never adopted.",
            parameters: [shardParameter],
            result: "true or false"
        ) { arguments, database in
            .bool(try await database.checkMigrationNeeded(shard: arguments.requiredString("shard")))
        },
        RPCMethod(
            "clearMigrationCache",
            "Forgets every finished adoption (the mappings stay), so the next start or autoDetectAndMigrate looks again.",
            result: "{success, cleared}",
            administrative: true
        ) { _, database in
            .object([("success", .bool(true)), ("cleared", .integer(Int64(try await database.clearMigrationCache())))])
        },
        RPCMethod(
            "forgetExistingDatabase",
            "Undoes an adoption: removes every mapping to the shard and its adoption record; the file is untouched.",
            parameters: [shardParameter],
            result: "{success, deleted}",
            administrative: true
        ) { arguments, database in
            .object([
                ("success", .bool(true)),
                (
                    "deleted",
                    .integer(Int64(try await database.forgetExistingDatabase(shard: arguments.requiredString("shard"))))
                ),
            ])
        },
    ]

    static func adoptionOptions(
        _ value: JSONValue?
    ) throws(JSONRPCError) -> (tables: [String]?, primaryKeyColumn: String?, dryRun: Bool) {
        var result: (tables: [String]?, primaryKeyColumn: String?, dryRun: Bool) = (nil, nil, false)
        guard case .object(let members)? = value else { return result }
        for (name, member) in members {
            switch (name, member) {
            case (_, .null): continue
            case ("tables", .array(let tables)):
                result.tables = try tables.map { table throws(JSONRPCError) in
                    guard case .string(let name) = table else {
                        throw .invalidParams("options.tables: must be an array of table names")
                    }
                    return name
                }
            case ("primaryKeyColumn", .string(let column)): result.primaryKeyColumn = column
            case ("dryRun", .bool(let flag)): result.dryRun = flag
            case ("tables", _), ("primaryKeyColumn", _), ("dryRun", _):
                throw .invalidParams(
                    "options.\(name): must be \(name == "dryRun" ? "true or false" : name == "tables" ? "an array of table names" : "a column name")"
                )
            default:
                throw .invalidParams("options: unknown member '\(name)' (known: tables, primaryKeyColumn, dryRun)")
            }
        }
        return result
    }

    static func validation(_ validation: TableValidation) -> JSONValue {
        .object([
            ("tableName", .string(validation.table)),
            ("isValid", .bool(validation.isValid)),
            ("keyColumn", validation.keyColumn.map(JSONValue.string) ?? .null),
            ("issues", .array(validation.issues.map(JSONValue.string))),
            ("recordCount", validation.rowCount.map(JSONValue.integer) ?? .null),
        ])
    }

    static func conflicts(_ conflicts: [AdoptionSummary.Conflict]) -> JSONValue {
        .array(
            conflicts.map {
                .object([("key", .string($0.key)), ("shard", .string($0.shard)), ("mappedTo", .string($0.mappedTo))])
            }
        )
    }

    static func integration(
        _ adoption: (summary: AdoptionSummary, skipped: [TableValidation]),
        dryRun: Bool
    ) -> JSONValue {
        let summary = adoption.summary
        return .object([
            ("success", .bool(true)),
            ("shardBinding", .string(summary.shard)),
            ("tablesProcessed", .array(summary.tables.map(JSONValue.string))),
            ("totalRecords", .integer(Int64(summary.keysSeen))),
            ("mappingsCreated", .integer(Int64(summary.mappingsCreated))),
            ("alreadyMapped", .integer(Int64(summary.alreadyMapped))),
            ("conflictCount", .integer(Int64(summary.conflictCount))),
            ("conflicts", conflicts(summary.conflicts)),
            ("skipped", .array(adoption.skipped.map(validation))),
            ("dryRun", .bool(dryRun)),
        ])
    }
}
