/// Moves one record's rows between shards, crash-safely: an intent in the mapping store, the
/// copy in one transaction on the target (journaled there), the mapping flipped with the intent
/// in one transaction, the delete in one transaction on the source, the intent removed. After a
/// crash, `recover` undoes a move that had not flipped and completes one that had.
struct RecordMover: Sendable {
    let store: any MappingCatalog
    /// Table to owning column, beyond the default (tables whose primary key is `id`).
    let ownership: [String: String]
    let killPoint: TestKillPoint

    /// Moves the rows `key` owns (in `table` only, if given) and then the record's mapping;
    /// returns how many rows moved. Blocks on SQLite.
    func move(
        key: String,
        recordID: Int64,
        from source: ShardDatabase,
        to target: ShardDatabase,
        table: String?
    ) throws
        -> Int
    {
        let tables = try source.owningTables(only: table, ownership: ownership)
        let plan = try source.plan(for: key, tables: tables)
        let moveID = try store.beginMove(recordID: recordID, from: source.name, to: target.name, plan: plan)
        killPoint.reached("after-intent")
        do {
            try target.copyRows(of: plan, from: source, moveID: moveID)
        } catch {
            try? target.undoCopy(moveID: moveID)
            try? store.finishMove(moveID)
            throw CollegeDBError.fromQuery(error, shard: target.name)
        }
        killPoint.reached("after-copy")
        do {
            try store.flipMove(moveID, recordID: recordID, to: target.name)
        } catch {
            try? target.undoCopy(moveID: moveID)
            try? store.finishMove(moveID)
            throw error
        }
        killPoint.reached("after-flip")
        try source.deleteRows(of: plan)
        killPoint.reached("after-delete")
        try target.clearJournal(moveID: moveID)
        try store.finishMove(moveID)
        return plan.rowCount
    }

    /// Finishes or undoes an interrupted move. Blocks on SQLite.
    func recover(_ intent: MappingStore.MoveIntent, source: ShardDatabase, target: ShardDatabase) throws {
        switch intent.state {
        case .copying:
            try target.undoCopy(moveID: intent.id)
        case .flipped:
            try source.deleteRows(of: intent.plan)
            try target.clearJournal(moveID: intent.id)
        }
        try store.finishMove(intent.id)
    }
}
