import GRDB
import Logging

/// Maps every existing key of a shard's owned tables to that shard: each table read once in its
/// key column's order, keys mapped in chunks of 50,000 per store transaction, with the table and
/// the last key done saved in the same transaction, so a restart (or a crash) resumes after the
/// last whole chunk. Keys mapped to another shard are conflicts, reported and left alone. Only
/// reads the shard's file. Blocks on SQLite: run it on a thread for long work.
struct AdoptionJob: Sendable {
    let shard: any AdoptableShard
    let store: MappingStore
    let tables: [AdoptedTable]
    let logger: Logger
    let killPoint: TestKillPoint
    /// Told a one-line progress report after each chunk (for `STATUS=`).
    let progress: @Sendable (String) -> Void

    /// Keys per store transaction.
    static let chunkKeys = 50_000

    /// Runs (or resumes) the adoption until it is done or `shouldStop` says to stop between
    /// chunks; returns the adoption's summary so far.
    func run(shouldStop: () -> Bool = { false }) throws -> AdoptionSummary {
        var start = (table: 0, cursor: DatabaseValue?.none)
        if let record = try store.adoption(of: shard.name), record.state == .adopting, record.tables == tables,
            (0...tables.count).contains(record.tableIndex)
        {
            start = (record.tableIndex, record.cursor.isNull ? nil : record.cursor)
            logger.notice(
                "resuming an interrupted adoption",
                metadata: ["shard": "\(shard.name)", "keysSeen": "\(record.summary.keysSeen)"]
            )
        } else {
            try store.beginAdoption(of: shard.name, tables: tables)
        }
        for index in start.table..<tables.count {
            if try !adopt(table: index, after: index == start.table ? start.cursor : nil, shouldStop: shouldStop) {
                return try summary()
            }
            // The next table from its start, saved, so a resume does not read this one again.
            _ = try store.adoptKeys([], shard: shard.name, tableIndex: index + 1, cursor: .null, dryRun: false)
        }
        try store.finishAdoption(of: shard.name)
        return try summary()
    }

    /// The adoption's summary as the store has it now.
    /// - Throws: `MAPPING_STORE_FAILED` when the record is gone (`clearMigrationCache` ran meanwhile).
    private func summary() throws -> AdoptionSummary {
        guard let record = try store.adoption(of: shard.name) else {
            throw CollegeDBError(
                .mappingStoreFailed,
                "the adoption of shard '\(shard.name)' was forgotten while it ran (clearMigrationCache)"
            )
        }
        return record.summary
    }

    /// What adopting would do now, changing nothing. Holds every distinct key in memory.
    func dryRun() throws -> AdoptionSummary {
        var summary = AdoptionSummary.starting(shard: shard.name, tables: tables.map(\.table))
        // Nothing is written between tables, so a key in several tables is counted once here.
        var seen = Set<String>()
        for (index, table) in tables.enumerated() {
            var keys: [String] = []
            try shard.forEachKey(of: table, after: nil) { text, _ in
                guard seen.insert(text).inserted else { return true }
                keys.append(text)
                if keys.count == Self.chunkKeys {
                    summary.add(
                        try store.adoptKeys(keys, shard: shard.name, tableIndex: index, cursor: .null, dryRun: true)
                    )
                    keys.removeAll(keepingCapacity: true)
                }
                return true
            }
            summary.add(try store.adoptKeys(keys, shard: shard.name, tableIndex: index, cursor: .null, dryRun: true))
        }
        summary.finishedAt = MappingStore.nowMilliseconds()
        return summary
    }

    /// Maps one table's keys after `cursor`; false when stopped before its end.
    private func adopt(table index: Int, after cursor: DatabaseValue?, shouldStop: () -> Bool) throws -> Bool {
        var keys: [String] = []
        var last = DatabaseValue.null
        var stopped = false
        func flush() throws {
            let chunk = try store.adoptKeys(keys, shard: shard.name, tableIndex: index, cursor: last, dryRun: false)
            for conflict in chunk.conflicts.prefix(AdoptionSummary.conflictSampleSize) {
                logger.warning(
                    "adoption: a key of the shard is mapped to another shard; left as it is",
                    metadata: [
                        "key": "\(conflict.key)", "shard": "\(conflict.shard)", "mappedTo": "\(conflict.mappedTo)",
                    ]
                )
            }
            keys.removeAll(keepingCapacity: true)
            killPoint.reached("adoption-chunk")
            if let summary = try store.adoption(of: shard.name)?.summary {
                progress(
                    "adopting \(shard.name): table \(tables[index].table) (\(index + 1)/\(tables.count)), \(summary.keysSeen) keys, \(summary.mappingsCreated) mapped, \(summary.conflictCount) conflicts"
                )
            }
        }
        try shard.forEachKey(of: tables[index], after: cursor) { text, value in
            keys.append(text)
            last = value
            guard keys.count == Self.chunkKeys else { return true }
            try flush()
            stopped = shouldStop()
            return !stopped
        }
        if !keys.isEmpty { try flush() }
        return !stopped
    }
}
