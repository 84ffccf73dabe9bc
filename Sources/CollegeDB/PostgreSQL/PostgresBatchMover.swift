import GRDB
import PostgresNIO

/// Moves a batch of a rebalance plan's records between two PostgreSQL shards with
/// ``PostgresRecordMover``: in one move, fenced against every daemon of the catalog, whose flip
/// marks the plan's moves done in the same catalog transaction. When the batch fails as a whole
/// (a row the target refuses), its records move one by one, so that only the failing ones are
/// skipped.
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
        let (moving, skipped) = BatchMover.stillOn(source.name, records, current: current)
        outcome.skipped = skipped
        guard !moving.isEmpty else { return outcome }
        let stored = try await BlockingWork.run { try catalog.storedKeys(ofRecords: moving) }
        let ownership = mover.ownership
        let keyTexts = self.keyTexts
        let texts = try await BlockingWork.runLong {
            let tables = try source.owningTables(ownership: ownership)
            return try keyTexts.texts(of: stored.keys, on: source, tables: tables)
        }
        var keys: [String: Int64] = [:]
        var unresolved: [DatabaseValue: Int64] = [:]
        for (key, record) in stored {
            if let text = texts[key] { keys[text] = record } else { unresolved[key] = record }
        }
        var pending = [moving]
        var singly = false
        while let group = pending.popLast() {
            let members = Set(group)
            do {
                let moved = try await locks.moving(all: group) {
                    try await mover.move(
                        records: group,
                        keys: keys.filter { members.contains($0.value) },
                        unresolved: unresolved.filter { members.contains($0.value) },
                        from: source,
                        to: target,
                        table: nil,
                        planID: planID
                    )
                }
                outcome.moved += moved.moved.count
                outcome.rows += moved.rows
                outcome.skipped += moved.gone.map { ($0, "it moved or was removed after planning") }
            } catch {
                if let reason = Self.stopReason(error, source: source, target: target) {
                    throw CollegeDBError(.shardUnavailable, reason)
                }
                guard !singly, group.count > 1 else {
                    outcome.skipped += group.map { ($0, RebalanceVerdict.copyFailure + Self.describe(error)) }
                    continue
                }
                singly = true
                pending = group.map { [$0] }
            }
        }
        return outcome
    }

    /// The server's message and SQLSTATE for a statement it failed, else the error itself.
    private static func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError, let sqlState = error.sqlState else { return "\(error)" }
        return "\(error.serverInfo?[.message] ?? "failed") (SQLSTATE \(sqlState))"
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
