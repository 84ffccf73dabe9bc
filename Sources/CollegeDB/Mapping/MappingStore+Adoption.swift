import Foundation
import GRDB

/// The store's part in adopting existing databases: the adoption record of each shard (kept
/// here, never in the user's file), its progress, and the mapping of existing keys in bulk.
extension MappingStore {
    /// What the store knows of a shard's adoption.
    struct AdoptionRecord: Sendable {
        var state: AdoptionState
        /// The tables being adopted, in order, with their key columns.
        var tables: [AdoptedTable]
        /// Index in `tables` of the table being scanned, and its last key done (typed).
        var tableIndex: Int
        var cursor: DatabaseValue
        var summary: AdoptionSummary
    }

    /// The adoption record of `shard`, or nil when it has none.
    func adoption(of shard: String) throws -> AdoptionRecord? {
        try guarded {
            try pool.unsafeRead { db in
                guard
                    let row = try Row.fetchOne(
                        db,
                        sql: """
                            SELECT state, tables, table_index, cursor, keys_seen, mappings_created, already_mapped,
                                   conflicts, conflict_sample, started_at, finished_at
                            FROM shard_adoption WHERE shard = ?
                            """,
                        arguments: [shard]
                    )
                else { return nil }
                let tables = try Self.decodedJSON(
                    [AdoptedTable].self,
                    try row.decode(String.self, forColumn: "tables"),
                    what: "an adoption's tables"
                )
                let sample = try Self.decodedJSON(
                    [AdoptionSummary.Conflict].self,
                    try row.decode(String.self, forColumn: "conflict_sample"),
                    what: "an adoption's conflicts"
                )
                return AdoptionRecord(
                    state: AdoptionState(rawValue: try row.decode(forColumn: "state")) ?? .adopting,
                    tables: tables,
                    tableIndex: try row.decode(forColumn: "table_index"),
                    cursor: try row.decode(forColumn: "cursor"),
                    summary: AdoptionSummary(
                        shard: shard,
                        tables: tables.map(\.table),
                        keysSeen: try row.decode(forColumn: "keys_seen"),
                        mappingsCreated: try row.decode(forColumn: "mappings_created"),
                        alreadyMapped: try row.decode(forColumn: "already_mapped"),
                        conflictCount: try row.decode(forColumn: "conflicts"),
                        conflicts: sample,
                        startedAt: try row.decode(forColumn: "started_at"),
                        finishedAt: try row.decode(forColumn: "finished_at")
                    )
                )
            }
        }
    }

    /// Starts (or restarts from nothing) the adoption of `shard` over `tables`.
    func beginAdoption(of shard: String, tables: [AdoptedTable]) throws {
        let text = String(decoding: try JSONEncoder().encode(tables), as: UTF8.self)
        try guarded {
            try pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO shard_adoption (shard, state, tables, started_at) VALUES (?, 'adopting', ?, ?)
                        ON CONFLICT (shard) DO UPDATE SET state = 'adopting', tables = excluded.tables,
                            table_index = 0, cursor = NULL, keys_seen = 0, mappings_created = 0, already_mapped = 0,
                            conflicts = 0, conflict_sample = '[]', started_at = excluded.started_at, finished_at = NULL
                        """,
                    arguments: [shard, text, Self.nowMilliseconds()]
                )
            }
        }
    }

    /// Records that `shard` needs no adoption: its file was new or held no owned rows.
    /// Every shard's adoption state, in one read; a state this version does not know reads as
    /// `adopting`, so that the shard is looked at again rather than skipped.
    func adoptionStates() throws -> [String: AdoptionState] {
        try guarded {
            try pool.unsafeRead { db in
                var states: [String: AdoptionState] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT shard, state FROM shard_adoption") {
                    let state: String = row["state"]
                    states[row["shard"]] = AdoptionState(rawValue: state) ?? .adopting
                }
                return states
            }
        }
    }

    /// Records `shards` as native (nothing to adopt) in one transaction, leaving any that has
    /// a record as it is.
    func markNative(_ shards: [String]) throws {
        try guarded {
            try pool.write { db in
                let now = Self.nowMilliseconds()
                let insert = try db.makeStatement(
                    sql: """
                        INSERT INTO shard_adoption (shard, state, tables, started_at, finished_at)
                        VALUES (?, 'native', '[]', ?, ?) ON CONFLICT (shard) DO NOTHING
                        """
                )
                for shard in shards { try insert.execute(arguments: [shard, now, now]) }
            }
        }
    }

    func markNative(_ shard: String) throws {
        try markNative([shard])
    }

    /// Maps each of `keys` (texts, as found in the shard) to `shard` as a record of its own,
    /// unless it is mapped already: to `shard` (counted), or elsewhere (a conflict, reported
    /// with both shards, never re-pointed). The adoption's progress (the table and the last key
    /// done, when `tableIndex` is given) is saved in the same transaction, so a crash resumes
    /// after the last whole chunk. With `dryRun`, nothing is written and the counts say what
    /// would be.
    func adoptKeys(
        _ keys: [String],
        shard: String,
        tableIndex: Int?,
        cursor: DatabaseValue,
        dryRun: Bool
    ) throws -> AdoptionSummary.Chunk {
        let body = { (db: Database) throws -> AdoptionSummary.Chunk in
            var chunk = AdoptionSummary.Chunk()
            let now = Self.nowMilliseconds()
            let shardOfKey = try db.cachedStatement(sql: Self.shardByKeySQL)
            var insertRecord: Statement?
            if !dryRun {
                insertRecord = try db.cachedStatement(sql: Self.insertRecordSQL)
            }
            for key in keys {
                let stored = self.keyCodec.storedValue(for: key)
                switch try String.fetchOne(shardOfKey, arguments: [stored]) {
                case nil:
                    try insertRecord?.execute(arguments: [shard, now, now, stored])
                    chunk.created += 1
                case shard?:
                    chunk.alreadyMapped += 1
                case let other?:
                    chunk.conflicts.append(.init(key: key, shard: shard, mappedTo: other))
                }
            }
            chunk.keysSeen = keys.count
            guard !dryRun, let tableIndex else { return chunk }
            // Progress is saved even for no keys: it moves the adoption to the next table.
            let sampleJSON = String(decoding: try JSONEncoder().encode(chunk.conflicts), as: UTF8.self)
            try db.execute(
                sql: """
                    UPDATE shard_adoption SET table_index = ?, cursor = ?, keys_seen = keys_seen + ?,
                        mappings_created = mappings_created + ?, already_mapped = already_mapped + ?,
                        conflicts = conflicts + ?,
                        conflict_sample = (
                            SELECT json_group_array(json(value)) FROM (
                                SELECT value FROM json_each(conflict_sample)
                                UNION ALL SELECT value FROM json_each(?) LIMIT \(AdoptionSummary.conflictSampleSize)
                            )
                        )
                    WHERE shard = ?
                    """,
                arguments: [
                    tableIndex, cursor, chunk.keysSeen, chunk.created, chunk.alreadyMapped, chunk.conflicts.count,
                    sampleJSON, shard,
                ]
            )
            return chunk
        }
        return try guarded { try dryRun ? pool.unsafeRead(body) : pool.write(body) }
    }

    /// Maps each of `keys` to `shard` as a record of its own unless it is mapped already, in
    /// one transaction, outside any adoption.
    func mapKeys(_ keys: [String], shard: String) throws -> AdoptionSummary.Chunk {
        try adoptKeys(keys, shard: shard, tableIndex: nil, cursor: .null, dryRun: false)
    }

    /// Ends the adoption of `shard`.
    func finishAdoption(of shard: String) throws {
        try guarded {
            try pool.write { db in
                try db.execute(
                    sql: "UPDATE shard_adoption SET state = 'adopted', finished_at = ? WHERE shard = ?",
                    arguments: [Self.nowMilliseconds(), shard]
                )
            }
        }
    }

    /// Forgets every finished adoption (not the shards recorded as native); returns how many.
    func clearAdoptions() throws -> Int {
        try guarded {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM shard_adoption WHERE state = 'adopted'")
                return db.changesCount
            }
        }
    }

    /// Forgets `shard`'s adoption and removes every mapping to it; returns the records removed.
    func forgetAdoption(of shard: String) throws -> Int {
        try guarded {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM shard_adoption WHERE shard = ?", arguments: [shard])
                try db.execute(sql: "DELETE FROM record WHERE shard = ?", arguments: [shard])
                return db.changesCount
            }
        }
    }

    /// `text` decoded as JSON.
    /// - Throws: `MAPPING_STORE_FAILED` naming `what` when it is not such a value.
    static func decodedJSON<T: Decodable>(_ type: T.Type, _ text: String, what: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(text.utf8))
        } catch {
            throw CollegeDBError(
                .mappingStoreFailed,
                "\(what) in the mapping store are not readable: \(text.prefix(200))"
            )
        }
    }
}
