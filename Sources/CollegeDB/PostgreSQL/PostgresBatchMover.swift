import GRDB

/// Moves a batch of a rebalance plan's records between two PostgreSQL shards, one record at a
/// time with ``PostgresRecordMover``: each is fenced against every daemon of the catalog, and
/// its flip marks the plan's move done in the same catalog transaction. Each record is held in
/// this daemon only while it moves, so a batch holds up no key for longer than one move.
struct PostgresBatchMover: Sendable {
    let catalog: any MappingCatalog
    let mover: PostgresRecordMover
    let locks: RecordLocks
    /// The plain text of the plan's keys, to find their rows by.
    let keyTexts: KeyTextCache

    /// Moves `records` of plan `planID` from `source` to `target`. Records no longer on the
    /// source (moved or deleted since planning) and records whose rows cannot be copied are
    /// skipped, each with its reason.
    /// - Throws: `SHARD_UNAVAILABLE` when either shard or the catalog stops answering, which
    ///   stops the job.
    func move(
        planID: Int64,
        records: [Int64],
        from source: PostgresShard,
        to target: PostgresShard
    ) async throws -> BatchMover.Outcome {
        var outcome = BatchMover.Outcome()
        let catalog = self.catalog
        let current = try await BlockingWork.run { try catalog.shards(ofRecords: records) }
        var moving: [Int64] = []
        for record in records {
            switch current[record] {
            case nil: outcome.skipped.append((record, "its mapping was deleted after planning"))
            case source.name?: moving.append(record)
            case let other?: outcome.skipped.append((record, "it moved to '\(other)' after planning"))
            }
        }
        guard !moving.isEmpty else { return outcome }
        let movingNow = moving
        let stored = try await BlockingWork.run { try catalog.storedKeys(ofRecords: movingNow) }
        let ownership = mover.ownership
        let keyTexts = self.keyTexts
        let texts = try await BlockingWork.runLong {
            let tables = try source.owningTables(ownership: ownership)
            return try keyTexts.texts(of: stored.keys, on: source, tables: tables)
        }
        var keys: [Int64: (texts: [String], unresolved: Set<DatabaseValue>)] = [:]
        for (key, record) in stored {
            if let text = texts[key] {
                keys[record, default: ([], [])].texts.append(text)
            } else {
                keys[record, default: ([], [])].unresolved.insert(key)
            }
        }
        for record in moving {
            let (texts, unresolved) = keys[record] ?? ([], [])
            do {
                let rows = try await locks.moving(record) {
                    try await mover.move(
                        keys: texts.sorted(),
                        unresolved: unresolved,
                        recordID: record,
                        from: source,
                        to: target,
                        table: nil,
                        planID: planID
                    )
                }
                outcome.moved += 1
                outcome.rows += rows
            } catch let error as CollegeDBError where error.code == .mappingNotFound {
                outcome.skipped.append((record, "it moved or was removed after planning"))
            } catch {
                if let reason = Self.stopReason(error, source: source, target: target) {
                    throw CollegeDBError(.shardUnavailable, reason)
                }
                outcome.skipped.append((record, "its rows could not be copied: \(error)"))
            }
        }
        return outcome
    }

    /// Why the job must stop after `error`: a shard or the catalog that does not answer; nil
    /// for an error of this record's rows alone.
    private static func stopReason(_ error: any Error, source: PostgresShard, target: PostgresShard) -> String? {
        if let error = error as? CollegeDBError,
            [.shardUnavailable, .storageFull, .mappingStoreFailed].contains(error.code)
        {
            return error.message
        }
        guard let reason = PostgresShard.connectionFailure(error, leased: true) else { return nil }
        return "shard '\(source.name)' or '\(target.name)' cannot be reached: \(reason)"
    }
}
