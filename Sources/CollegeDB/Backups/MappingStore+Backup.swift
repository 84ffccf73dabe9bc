import GRDB

extension MappingStore {
    /// Copies the store to `path` (SQLite's online backup API, one read snapshot) and, in the
    /// copy, points each registered shard of `copied` at the data directory's default place,
    /// where the backup holds its copy, so that the backup starts on its own files wherever it
    /// is moved. Returns the copy's size in bytes.
    func backUp(to path: String, copied: [String]) throws -> Int64 {
        try guarded {
            let bytes = try SQLiteFileCopy.copy(pool, to: path)
            let copy = try DatabaseQueue(path: path)
            try copy.write { db in
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
