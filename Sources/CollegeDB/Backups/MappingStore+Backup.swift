import GRDB

extension MappingStore {
    /// Copies the store to `path` (SQLite's online backup API, one read snapshot) and, in the
    /// copy, points each registered shard of `copied` at the data directory's default place,
    /// where the backup holds its copy, so that the backup starts on its own files wherever it
    /// is moved; a registration of none of `kept` (a shard registered while the backup ran, not
    /// copied) is left out, so that the backup never opens a live file. Returns the copy's size
    /// in bytes.
    func backUp(to path: String, copied: [String], kept: [String]) throws -> Int64 {
        try guarded {
            let bytes = try SQLiteFileCopy.copy(pool, to: path)
            let copy = try DatabaseQueue(path: path)
            try copy.write { db in
                try db.execute(
                    sql:
                        "DELETE FROM shard_registry WHERE registered = 1 AND name NOT IN (SELECT value FROM json_each(?))",
                    arguments: [JSONArrayText.texts(kept)]
                )
                for name in copied {
                    try db.execute(
                        sql: "UPDATE shard_registry SET path = NULL WHERE name = ? AND registered = 1",
                        arguments: [name]
                    )
                }
            }
            try copy.close()
            return bytes
        }
    }
}
