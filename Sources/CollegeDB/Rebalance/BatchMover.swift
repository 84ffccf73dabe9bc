/// Moves a batch of records between two shards with the steps `RecordMover` proved for one
/// record, but for many records per transaction: an intent naming every row, the copy in one
/// target transaction (journaled there), the mappings and the plan's progress flipped in one
/// store transaction, the delete in one source transaction. A crash at any step is recovered
/// on start like a single move: undone before the flip, completed after it.
struct BatchMover: Sendable {
    let store: MappingStore
    /// Table to owning column, beyond the default (tables whose primary key is `id`).
    let ownership: [String: String]
    let killPoint: TestKillPoint
    /// The plain text of the plan's keys, to find their rows by.
    let keyTexts: KeyTextCache

    /// What one batch did.
    struct Outcome: Sendable {
        var moved: Int = 0
        var rows: Int = 0
        var skipped: [(record: Int64, reason: String)] = []
    }

    /// Which of a plan's `records` are still on `source` (by `current`, their shards now), and
    /// why each of the others is skipped.
    static func stillOn(
        _ source: String,
        _ records: [Int64],
        current: [Int64: String]
    ) -> (moving: [Int64], skipped: [(record: Int64, reason: String)]) {
        var moving: [Int64] = []
        var skipped: [(record: Int64, reason: String)] = []
        for record in records {
            switch current[record] {
            case nil: skipped.append((record, "its mapping was deleted after planning"))
            case source?: moving.append(record)
            case let other?: skipped.append((record, "it moved to '\(other)' after planning"))
            }
        }
        return (moving, skipped)
    }

    /// Moves `records` of plan `planID` from `source` to `target`. Records no longer on the
    /// source (moved or deleted since planning) are skipped, not clobbered. Call it while every
    /// record is held; blocks on SQLite.
    func move(
        planID: Int64,
        records: [Int64],
        from source: ShardDatabase,
        to target: ShardDatabase
    ) throws
        -> Outcome
    {
        var outcome = Outcome()
        let (moving, skipped) = Self.stillOn(source.name, records, current: try store.shards(ofRecords: records))
        outcome.skipped = skipped
        guard !moving.isEmpty else { return outcome }
        let keys = try store.storedKeys(ofRecords: moving)
        let tables = try source.owningTables(only: nil, ownership: ownership)
        let texts = Set(try keyTexts.texts(of: keys.keys, on: source, tables: tables).values)
        let plan = try source.rows(ofKeyTexts: texts, tables: tables)
        let moveID = try store.beginBatchMove(
            planID: planID,
            records: moving,
            from: source.name,
            to: target.name,
            plan: plan
        )
        killPoint.reached("after-intent")
        do {
            try target.copyRows(of: plan, from: source, moveID: moveID)
            killPoint.reached("after-copy")
            try store.flipBatchMove(
                moveID,
                planID: planID,
                records: moving,
                from: source.name,
                to: target.name,
                rows: plan.rowCount
            )
        } catch {
            try? target.undoCopy(moveID: moveID)
            try? store.finishMove(moveID)
            throw CollegeDBError.fromQuery(error, shard: target.name)
        }
        killPoint.reached("after-flip")
        try source.deleteRows(of: plan)
        killPoint.reached("after-delete")
        try target.clearJournal(moveID: moveID)
        try store.finishMove(moveID)
        outcome.moved = moving.count
        outcome.rows = plan.rowCount
        return outcome
    }
}
