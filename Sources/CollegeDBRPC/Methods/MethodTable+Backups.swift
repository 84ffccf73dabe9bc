import CollegeDB
import CollegeDBJSON

extension MethodTable {
    /// Online backups of the mapping store and every SQLite shard.
    static let backupMethods: [RPCMethod] = [
        RPCMethod(
            "backup",
            "Copies the mapping store and every SQLite shard into a new data directory while serving; answers when it is whole.",
            parameters: [
                .required("directory", .string, "an absolute path that does not exist yet (its parent does)"),
                .optional("options", .object, "none yet: {}"),
            ],
            result: "{directory, shards: [shard], skipped: [shard], bytes, seconds}",
            administrative: true
        ) { arguments, database in
            if case .object(let members)? = arguments["options"], let (name, _) = members.first {
                throw JSONRPCError.invalidParams("options: unknown member '\(name)' (none are known)")
            }
            let backup = try await database.backup(directory: arguments.requiredString("directory"))
            return .object([
                ("directory", .string(backup.directory)),
                ("shards", .array(backup.shards.map(JSONValue.string))),
                ("skipped", .array(backup.skipped.map(JSONValue.string))),
                ("bytes", .integer(backup.bytes)),
                ("seconds", .double((backup.seconds * 1000).rounded() / 1000)),
            ])
        }
    ]
}
