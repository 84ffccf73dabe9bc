import GRDB

extension MappingStore {
    /// Copies the store to `path` (SQLite's online backup API, one read snapshot) and, in the
    /// copy, points each registered shard of `relocated` at its copy: its new path, or nil for
    /// the data directory's default place, so that the backup starts on its own files.
    /// Returns the copy's size in bytes.
    func backUp(to path: String, relocated: [String: String?]) throws -> Int64 {
        try guarded {
            let bytes = try SQLiteFileCopy.copy(pool, to: path)
            let copy = try DatabaseQueue(path: path)
            try copy.write { db in
                for (name, location) in relocated {
                    try db.execute(
                        sql: "UPDATE shard_registry SET path = ? WHERE name = ? AND registered = 1",
                        arguments: [location, name]
                    )
                }
            }
            try copy.close()
            return bytes
        }
    }
}
