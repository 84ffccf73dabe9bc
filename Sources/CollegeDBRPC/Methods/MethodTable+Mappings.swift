import CollegeDB
import CollegeDBJSON

extension MethodTable {
    /// The KVShardMapper methods and `reassignShard`.
    static let mappingMethods: [RPCMethod] = [
        RPCMethod(
            "getShardMapping",
            "The mapping of the key's record, or null.",
            parameters: [keyParameter],
            result: "{shard, createdAt, updatedAt} or null",
            blockingHandler: { arguments, database in
                mappingJSON(try database.lookUpShardMapping(key: arguments.requiredString("key")))
            },
            handler: { arguments, database in
                mappingJSON(try await database.shardMapping(key: arguments.requiredString("key")))
            }
        ),
        RPCMethod(
            "setShardMapping",
            "Maps the key (and additionalKeys) to a shard: a new record, or the key's record re-pointed. Rows are not moved.",
            parameters: [
                keyParameter, shardParameter,
                .optional("additionalKeys", .array, "more lookup keys of the same record"),
            ],
            result: "{success: true}",
            administrative: true
        ) { arguments, database in
            try await database.setShardMapping(
                key: arguments.requiredString("key"),
                shard: arguments.requiredString("shard"),
                additionalKeys: arguments.strings("additionalKeys")
            )
            return ResultEncoding.success()
        },
        RPCMethod(
            "addLookupKeys",
            "Adds lookup keys to the key's record; a key held by another record is a KEY_CONFLICT.",
            parameters: [keyParameter, .required("keys", .array, "the keys to add")],
            result: "{success: true}",
            administrative: true
        ) { arguments, database in
            try await database.addLookupKeys(key: arguments.requiredString("key"), keys: arguments.strings("keys"))
            return ResultEncoding.success()
        },
        RPCMethod(
            "getAllLookupKeys",
            "Every key of the key's record (SHA-256 hex digests when keys are hashed).",
            parameters: [keyParameter],
            result: "an array of strings"
        ) { arguments, database in
            .array(try await database.allLookupKeys(key: arguments.requiredString("key")).map(JSONValue.string))
        },
        RPCMethod(
            "updateShardMapping",
            "Re-points the whole record, whichever of its keys is given. Rows are not moved: see reassignShard.",
            parameters: [keyParameter, shardParameter],
            result: "{success: true}",
            administrative: true
        ) { arguments, database in
            try await database.updateShardMapping(
                key: arguments.requiredString("key"),
                shard: arguments.requiredString("shard")
            )
            return ResultEncoding.success()
        },
        RPCMethod(
            "deleteShardMapping",
            "Removes the whole record's mapping, whichever of its keys is given.",
            parameters: [keyParameter],
            result: "{success: true, deleted: keys removed}",
            administrative: true
        ) { arguments, database in
            let deleted = try await database.deleteShardMapping(key: arguments.requiredString("key"))
            return .object([("success", .bool(true)), ("deleted", .integer(Int64(deleted)))])
        },
        RPCMethod(
            "getKeysForShard",
            "One page of the keys mapped to a shard; pass the returned cursor for the next page.",
            parameters: [
                shardParameter,
                .optional("limit", .integer, "keys per page, 1 to \(CollegeDB.maximumKeyPage) (default 1000)"),
                .optional("cursor", .string, "the cursor of the previous page"),
            ],
            result: "{keys, cursor}: cursor is null after the last page"
        ) { arguments, database in
            let limit = arguments.integer("limit") ?? 1000
            let page = try await database.keysForShard(
                arguments.requiredString("shard"),
                limit: Int(limit),
                cursor: arguments.string("cursor")
            )
            return .object([
                ("keys", .array(page.keys.map(JSONValue.string))),
                ("cursor", page.cursor.map(JSONValue.string) ?? .null),
            ])
        },
        RPCMethod(
            "clearAllMappings",
            "Deletes every mapping (development only; needs --allow-flush).",
            parameters: [.required("confirm", .boolean, "must be true")],
            result: "{success: true, deleted}",
            administrative: true
        ) { arguments, database in
            let deleted = try await database.clearAllMappings(confirm: arguments.boolean("confirm") ?? false)
            return .object([("success", .bool(true)), ("deleted", .integer(Int64(deleted)))])
        },
        RPCMethod(
            "reassignShard",
            "Moves the key's rows (every owning table, or the one named), then its mapping; crash-safe.",
            parameters: [keyParameter, shardParameter, .optional("table", .string, "only this table")],
            result: "{from, to, rowsMoved}",
            administrative: true
        ) { arguments, database in
            let moved = try await database.reassignShard(
                key: arguments.requiredString("key"),
                to: arguments.requiredString("shard"),
                table: arguments.string("table")
            )
            return .object([
                ("from", .string(moved.from)), ("to", .string(moved.to)),
                ("rowsMoved", .integer(Int64(moved.rowsMoved))),
            ])
        },
    ]

    private static func mappingJSON(_ mapping: ShardMapping?) -> JSONValue {
        guard let mapping else { return .null }
        return .object([
            ("shard", .string(mapping.shard)),
            ("createdAt", .integer(mapping.createdAt)),
            ("updatedAt", .integer(mapping.updatedAt)),
        ])
    }
}
