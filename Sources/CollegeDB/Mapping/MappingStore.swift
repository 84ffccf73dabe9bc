import Foundation
import GRDB

/// The persistent map from lookup keys to shards, in its own SQLite database, together with the
/// coordinator's persisted state (round-robin position, per-shard statistics).
/// Every method blocks on SQLite: call it off any event loop.
package final class MappingStore: Sendable {
    package let path: String
    package let keyCodec: MappingKeyCodec
    let pool: DatabasePool

    private static let keyHashingName = "key_hashing"
    private static let roundRobinName = "round_robin_next"
    /// The first counter of `collegedb_id()` not yet reserved.
    private static let identifiersName = "id_next"

    /// Opens (creating when missing) the store at `path`. A store made with the other key
    /// hashing setting is refused: its keys could never be found.
    package init(path: String, keyCodec: MappingKeyCodec) throws {
        self.path = path
        self.keyCodec = keyCodec
        do {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true
            )
            pool = try DatabasePool(path: path, configuration: ShardDatabase.configuration())
            // Every commit is durable before it returns, whatever the shards' durability: an
            // allocation must survive a power loss before its key's first row is written.
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
                // New keys land all over the key index: the writer keeps up to 64 MiB of its
                // pages in memory rather than read them again for every insert.
                try db.execute(sql: "PRAGMA cache_size = -65536")
            }
            try Self.migrator.migrate(pool)
            try pool.write { db in
                let hashing = keyCodec.digest.rawValue
                try db.execute(
                    sql: "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                    arguments: [Self.keyHashingName, hashing]
                )
                let stored = try String.fetchOne(
                    db,
                    sql: "SELECT value FROM meta WHERE name = ?",
                    arguments: [Self.keyHashingName]
                )
                guard stored == hashing else {
                    throw CollegeDBError(
                        .mappingStoreFailed,
                        "the mapping store at \(path) keeps \(stored ?? "unknown") keys, but this daemon is "
                            + "configured for \(hashing) keys; start it with the setting the store was made with"
                    )
                }
            }
        } catch {
            throw CollegeDBError.fromMappingStore(error)
        }
    }

    /// The record `key` belongs to and its shard, or nil when the key is unmapped.
    package func record(forKey key: String) throws -> (id: Int64, shard: String)? {
        try guarded {
            try pool.unsafeRead { db in
                try Row.fetchOne(
                    db.cachedStatement(sql: Self.recordByKeySQL),
                    arguments: [keyCodec.storedValue(for: key)]
                ).map { (try $0.decode(atIndex: 0), try $0.decode(atIndex: 1)) }
            }
        }
    }

    static let recordByKeySQL = recordOfKeySQL(selecting: "r.id, r.shard")

    /// The shard of the record that `key` belongs to, or nil when the key is unmapped.
    package func shard(forKey key: String) throws -> String? {
        try guarded {
            try pool.unsafeRead { db in
                try String.fetchOne(
                    db.cachedStatement(sql: Self.shardByKeySQL),
                    arguments: [keyCodec.storedValue(for: key)]
                )
            }
        }
    }

    /// The mapping of the record that `key` belongs to, or nil.
    package func mapping(forKey key: String) throws -> ShardMapping? {
        try guarded {
            try pool.unsafeRead { db in
                try Row.fetchOne(
                    db.cachedStatement(sql: Self.mappingByKeySQL),
                    arguments: [keyCodec.storedValue(for: key)]
                ).map {
                    ShardMapping(
                        shard: try $0.decode(atIndex: 0),
                        createdAt: try $0.decode(atIndex: 1),
                        updatedAt: try $0.decode(atIndex: 2)
                    )
                }
            }
        }
    }

    /// Returns the existing mapping of `key`, or creates one on the shard that `choose` picks,
    /// in one write transaction, so racing first writes of one key end on one shard.
    /// `choose` gets the round-robin position and says whether it consumed it.
    package func allocate(
        key: String,
        choose: (_ roundRobinPosition: Int64) throws -> (shard: String, consumesPosition: Bool),
        onCreate: (_ record: Int64) -> Void = { _ in }
    ) throws -> Allocation {
        try guarded {
            try pool.write { db in
                let storedKey = keyCodec.storedValue(for: key)
                if let shard = try String.fetchOne(db.cachedStatement(sql: Self.shardByKeySQL), arguments: [storedKey])
                {
                    return Allocation(shard: shard, created: false)
                }
                let position =
                    try Int64.fetchOne(
                        db,
                        sql: "SELECT value FROM meta WHERE name = ?",
                        arguments: [Self.roundRobinName]
                    ) ?? 0
                let choice = try choose(position)
                let now = Self.nowMilliseconds()
                try db.execute(sql: Self.insertRecordSQL, arguments: [choice.shard, now, now, storedKey])
                let record = db.lastInsertedRowID
                if choice.consumesPosition {
                    try db.execute(
                        sql:
                            "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                        // Wraps rather than traps: only the position modulo the shard count matters.
                        arguments: [Self.roundRobinName, position &+ 1]
                    )
                }
                onCreate(record)
                return Allocation(shard: choice.shard, created: true, record: record)
            }
        }
    }

    /// The round-robin position the next allocation will use.
    package func roundRobinPosition() throws -> Int64 {
        try guarded {
            try pool.unsafeRead { db in
                try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE name = ?", arguments: [Self.roundRobinName])
                    ?? 0
            }
        }
    }

    package func reserveIdentifiers(_ count: Int64) throws -> Int64 {
        try guarded {
            try pool.write { db in
                let first =
                    try Int64.fetchOne(
                        db,
                        sql: "SELECT value FROM meta WHERE name = ?",
                        arguments: [Self.identifiersName]
                    )
                    ?? 0
                let (end, overflow) = first.addingReportingOverflow(count)
                guard !overflow, first >= 0 else {
                    throw CollegeDBError(.mappingStoreFailed, "the store's collegedb_id() counter is damaged: \(first)")
                }
                try db.execute(
                    sql:
                        "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    arguments: [Self.identifiersName, end]
                )
                return first
            }
        }
    }

    package func identifierNode(ofShard shard: String) throws -> Int64 {
        try guarded {
            try pool.write { db in
                let name = "id_node:" + shard
                if let node = try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE name = ?", arguments: [name]) {
                    return node
                }
                let highest = try Int64.fetchOne(
                    db,
                    sql: "SELECT max(CAST(value AS INTEGER)) FROM meta WHERE name LIKE 'id\\_node:%' ESCAPE '\\'"
                )
                let node = try ClusterIdentifiers.node(after: highest)
                try db.execute(sql: "INSERT INTO meta (name, value) VALUES (?, ?)", arguments: [name, node])
                return node
            }
        }
    }

    /// Statistics for each shard that has ever held a record.
    package func statistics() throws -> [String: ShardStatistics] {
        try guarded {
            try pool.unsafeRead { db in
                let rows = try Row.fetchAll(db, sql: "SELECT shard, record_count, last_updated FROM shard_stats")
                let statistics = try rows.map { row in
                    ShardStatistics(
                        shard: try row.decode(atIndex: 0),
                        count: try row.decode(atIndex: 1),
                        lastUpdated: try row.decode(atIndex: 2)
                    )
                }
                return Dictionary(statistics.map { ($0.shard, $0) }, uniquingKeysWith: { first, _ in first })
            }
        }
    }

    /// Deletes every mapping and the coordinator's state; returns how many records were deleted.
    @discardableResult
    package func clearAll() throws -> Int {
        try guarded {
            try pool.write { db in
                let deleted = try deleteAllRecords(in: db)
                try db.execute(sql: "DELETE FROM shard_stats")
                try db.execute(sql: "DELETE FROM meta WHERE name = ?", arguments: [Self.roundRobinName])
                return deleted
            }
        }
    }

    /// Closes every connection; later calls fail. The store is left as one file: its `-wal`
    /// and `-shm` are folded in and removed.
    package func close() throws {
        try pool.close()
        // GRDB closes a pool's writer before its read-only readers, and a read-only connection
        // that closes last cannot fold the WAL in: one more read-write connection, opened and
        // closed last, checkpoints the WAL and removes it with the -shm.
        try DatabaseQueue(path: path).close()
    }

    /// Whether the store answers a trivial query.
    package func isHealthy() -> Bool {
        // Any error is the answer: not healthy.
        (try? pool.unsafeRead { db in try Int.fetchOne(db, sql: "SELECT 1") }) == 1
    }

    static func nowMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }

    static let shardByKeySQL = recordOfKeySQL(selecting: "r.shard")
    static let mappingByKeySQL = recordOfKeySQL(selecting: "r.shard, r.created_at, r.updated_at")

    /// Selects `columns` of `record r` for the record that the stored key bound as `?1` belongs
    /// to, as its first key or as an additional one: at most one row, since the store's writes
    /// give a key to one record only.
    static func recordOfKeySQL(selecting columns: String) -> String {
        """
        SELECT \(columns) FROM record r
            WHERE \(firstKeyLocator(of: "r.key")) = \(firstKeyLocator(of: "?1")) AND r.key = ?1
        UNION ALL
        SELECT \(columns) FROM additional_key a JOIN record r ON r.id = a.record_id WHERE a.key = ?1
        """
    }

    /// Inserts a record: its shard, creation and update times, and first key.
    static let insertRecordSQL = "INSERT INTO record (shard, created_at, updated_at, key) VALUES (?, ?, ?, ?)"

    /// Deletes every record with its keys; returns how many records there were.
    func deleteAllRecords(in db: Database) throws -> Int {
        try db.execute(sql: "DELETE FROM additional_key")
        try db.execute(sql: "DELETE FROM record")
        return db.changesCount
    }

    func guarded<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw CollegeDBError.fromMappingStore(error)
        }
    }
}
