import GRDB

extension CollegeDBError {
    /// Translates what GRDB threw while running user SQL on `shard`: SQLite's failures become
    /// `QUERY_FAILED` (or `STORAGE_FULL`) with SQLite's codes; our own errors pass through.
    static func fromQuery(_ error: any Error, shard: String) -> CollegeDBError {
        if let error = error as? CollegeDBError { return error }
        guard let databaseError = error as? DatabaseError else {
            return CollegeDBError(.internalError, "shard '\(shard)': \(error)")
        }
        return fromSQLite(
            SQLiteFailure(
                code: databaseError.resultCode.rawValue,
                extendedCode: databaseError.extendedResultCode.rawValue,
                message: databaseError.message ?? "\(databaseError.resultCode)"
            ),
            shard: shard
        )
    }

    /// `QUERY_FAILED` (or `STORAGE_FULL`) for what SQLite reported on `shard`.
    static func fromSQLite(_ failure: SQLiteFailure, shard: String) -> CollegeDBError {
        if failure.code == 13 {  // SQLITE_FULL
            return CollegeDBError(.storageFull, "shard '\(shard)': the disk is full", sqlite: failure)
        }
        return CollegeDBError(.queryFailed, "shard '\(shard)': \(failure.message)", sqlite: failure)
    }

    /// Translates a failure of the mapping store itself.
    static func fromMappingStore(_ error: any Error) -> CollegeDBError {
        if let error = error as? CollegeDBError { return error }
        if let databaseError = error as? DatabaseError {
            let failure = SQLiteFailure(
                code: databaseError.resultCode.rawValue,
                extendedCode: databaseError.extendedResultCode.rawValue,
                message: databaseError.message ?? "\(databaseError.resultCode)"
            )
            let code: Code = databaseError.resultCode == .SQLITE_FULL ? .storageFull : .mappingStoreFailed
            return CollegeDBError(code, "mapping store: \(failure.message)", sqlite: failure)
        }
        // A value of another type than the store's schema says (a damaged or hand-edited store)
        // is the store's failure, not the daemon's.
        if error is RowDecodingError {
            return CollegeDBError(.mappingStoreFailed, "mapping store: a damaged value: \(error)")
        }
        return CollegeDBError(.internalError, "mapping store: \(error)")
    }
}
