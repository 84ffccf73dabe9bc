/// Moves records' rows between two SQLite shards: an intent in the catalog naming every row,
/// the copy by SQLite in one target transaction (journaled there, and checked against the
/// source before it commits), the mappings flipped in one catalog transaction (with
/// the plan's progress, for a batch), the delete in one source transaction, the intent removed. A crash at any step is recovered at
/// the next start: undone before the flip, completed after it. Every step blocks on SQLite, so
/// each move runs on the threads for blocking work.
struct SQLiteShardMover: ShardMover {
    let source: ShardDatabase
    let target: ShardDatabase
    let context: MoveContext

    /// One: a second lane moved up to 25% more rows a second on a 2-core machine, but it took the
    /// core that requests need (reads of other keys were 2.7–3x slower at p99 while it ran).
    var lanes: Int { 1 }

    func move(key: String, recordID: Int64, table: String?) async throws -> Int {
        try await BlockingWork.run { try moveNow(key: key, recordID: recordID, table: table) }
    }

    func findKeyTexts(of records: [Int64], in keyTexts: KeyTextCache) async throws {
        guard !keyTexts.scanned(records, on: source) else { return }
        let (store, source, ownership) = (context.catalog, source, context.ownership)
        try await BlockingWork.runBackground {
            let keys = try store.storedKeys(ofRecords: records)
            let tables = try source.owningTables(only: nil, ownership: ownership)
            _ = try keyTexts.texts(of: keys.keys, on: source, tables: tables)
        }
    }

    func move(planID: Int64, records: [Int64], keyTexts: KeyTextCache) async throws -> MoveBatchOutcome {
        // A batch's intent names its plan, which only the daemon's own mapping store records.
        let store = try context.catalog.sqliteStore(for: "rebalancing SQLite shards")
        return try await BlockingWork.runBackground {
            try moveNow(planID: planID, records: records, store: store, keyTexts: keyTexts)
        }
    }

    func recover(_ intent: MoveIntent) async throws {
        try await BlockingWork.run {
            switch intent.state {
            case .copying:
                try target.undoCopy(moveID: intent.id)
            case .flipped:
                try source.deleteRows(of: intent.plan)
                try target.clearJournal(moveID: intent.id)
            }
            try context.catalog.finishMove(intent.id)
        }
    }

    private func moveNow(key: String, recordID: Int64, table: String?) throws -> Int {
        let store = context.catalog
        let tables = try source.owningTables(only: table, ownership: context.ownership)
        let plan = try source.plan(for: key, tables: tables)
        let moveID = try store.beginMove(recordID: recordID, from: source.name, to: target.name, plan: plan)
        context.killPoint.reached("after-intent")
        try copyThenFlip(moveID: moveID, plan: plan) {
            context.killPoint.reached("after-copy")
            try store.flipMove(moveID, recordID: recordID, to: target.name)
        }
        try deleteFromSource(moveID: moveID, plan: plan)
        return plan.rowCount
    }

    private func moveNow(
        planID: Int64,
        records: [Int64],
        store: MappingStore,
        keyTexts: KeyTextCache
    ) throws -> MoveBatchOutcome {
        var outcome = MoveBatchOutcome()
        let current = try store.shards(ofRecords: records)
        let (moving, skipped) = MoveBatchOutcome.stillOn(source.name, records, current: current)
        outcome.skipped = skipped
        guard !moving.isEmpty else { return outcome }
        let keys = try store.storedKeys(ofRecords: moving)
        let tables = try source.owningTables(only: nil, ownership: context.ownership)
        let texts = Set(try keyTexts.texts(of: keys.keys, on: source, tables: tables).values)
        let plan = try source.rows(ofKeyTexts: texts, tables: tables)
        let moveID = try store.beginBatchMove(
            planID: planID,
            records: moving,
            from: source.name,
            to: target.name,
            plan: plan
        )
        context.killPoint.reached("after-intent")
        try copyThenFlip(moveID: moveID, plan: plan) {
            context.killPoint.reached("after-copy")
            try store.flipBatchMove(
                moveID,
                planID: planID,
                records: moving,
                from: source.name,
                to: target.name,
                rows: plan.rowCount
            )
        }
        do {
            try deleteFromSource(moveID: moveID, plan: plan)
        } catch {
            throw MoveFinishFailure(error, source: source.name)
        }
        outcome.rows = plan.rowCount
        return outcome
    }

    /// Copies `plan`'s rows to the target and runs `flip`; when either fails, the copy is undone
    /// and the intent removed, so that the rows stay wholly on the source.
    private func copyThenFlip(moveID: Int64, plan: MovePlan, flip: () throws -> Void) throws {
        do {
            do {
                try target.copyRows(of: plan, from: source, moveID: moveID)
            } catch {
                throw CollegeDBError.fromQuery(error, shard: target.name)
            }
            try flip()
        } catch {
            undo(moveID: moveID)
            throw error
        }
    }

    /// Undoes a copy that will not be flipped. Its own failure is logged, not thrown: the intent
    /// (kept when it cannot be removed) has the next start undo the copy again.
    private func undo(moveID: Int64) {
        do {
            try target.undoCopy(moveID: moveID)
            try context.catalog.finishMove(moveID)
        } catch {
            context.logger.error(
                "a failed move could not be undone now; the next start undoes it",
                metadata: ["move": "\(moveID)", "error": "\(error)"]
            )
        }
    }

    /// The steps after the flip: the rows leave the source, the journal and the intent go.
    private func deleteFromSource(moveID: Int64, plan: MovePlan) throws {
        context.killPoint.reached("after-flip")
        try source.deleteRows(of: plan)
        context.killPoint.reached("after-delete")
        try target.clearJournal(moveID: moveID)
        try context.catalog.finishMove(moveID)
    }
}

extension ShardDatabase {
    package func mover(to target: any ShardBackend, context: MoveContext) throws -> any ShardMover {
        guard let target = target as? ShardDatabase else { throw moveBetweenKinds(to: target) }
        return SQLiteShardMover(source: self, target: target, context: context)
    }
}
