import GRDB

/// What the store remembers about shards: those added or removed at run time, statistics
/// overrides, and the query and error counts kept across restarts.
extension MappingStore {
    /// Every registration, in the order made.
    package func shardRegistrations() throws -> [ShardRegistration] {
        try guarded {
            try pool.unsafeRead { db in
                try Row.fetchAll(db, sql: "SELECT name, path, registered FROM shard_registry ORDER BY position").map {
                    ShardRegistration(
                        name: try $0.decode(atIndex: 0),
                        path: try $0.decode(atIndex: 1),
                        registered: try $0.decode(atIndex: 2)
                    )
                }
            }
        }
    }

    /// Records that `name` was registered (with its file) or unregistered.
    package func recordRegistration(_ registration: ShardRegistration) throws {
        try guarded {
            try pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO shard_registry (name, path, registered, position)
                        VALUES (?, ?, ?, (SELECT coalesce(max(position), 0) + 1 FROM shard_registry))
                        ON CONFLICT (name) DO UPDATE SET path = excluded.path, registered = excluded.registered
                        """,
                    arguments: [registration.name, registration.path, registration.registered]
                )
            }
        }
    }

    /// Forgets what was recorded about `name` (a registered shard that is unregistered again).
    package func forgetRegistration(of name: String) throws {
        try guarded {
            try pool.write { db in try db.execute(sql: "DELETE FROM shard_registry WHERE name = ?", arguments: [name]) }
        }
    }

    /// How many records map to `shard`, counted exactly.
    package func recordCount(onShard shard: String) throws -> Int64 {
        try guarded {
            try pool.unsafeRead { db in
                try Int64.fetchOne(db, sql: "SELECT count(*) FROM record WHERE shard = ?", arguments: [shard]) ?? 0
            }
        }
    }

    /// Sets the recorded count of `shard` (an administrator's override), or moves it by
    /// `delta`, never below 0 and never past `Int64.max` (SQLite would turn an overflowing
    /// sum into a REAL).
    package func adjustRecordCount(onShard shard: String, to count: Int64? = nil, by delta: Int64 = 0) throws {
        let ceiling = RecordCountBounds.ceiling(adding: delta)
        try guarded {
            try pool.write { db in
                let now = Self.nowMilliseconds()
                try db.execute(
                    sql: """
                        INSERT INTO shard_stats (shard, record_count, last_updated)
                        VALUES (?, max(min(max(coalesce(?, 0), 0), ?) + ?, 0), ?)
                        ON CONFLICT (shard) DO UPDATE
                        SET record_count = max(min(max(coalesce(?, record_count), 0), ?) + ?, 0),
                            last_updated = excluded.last_updated
                        """,
                    arguments: [
                        shard, count, ceiling, delta, now,
                        count, ceiling, delta,
                    ]
                )
            }
        }
    }

    /// The query and error counts kept for each shard.
    package func savedMetrics() throws -> [String: (queries: Int, errors: Int)] {
        try guarded {
            try pool.unsafeRead { db in
                let rows = try Row.fetchAll(db, sql: "SELECT shard, query_count, error_count FROM shard_stats")
                return try Dictionary(
                    rows.map {
                        (
                            try $0.decode(atIndex: 0),
                            (queries: try $0.decode(atIndex: 1), errors: try $0.decode(atIndex: 2))
                        )
                    },
                    uniquingKeysWith: { first, _ in first }
                )
            }
        }
    }

    /// Keeps the query and error counts of each shard for the next start.
    package func saveMetrics(_ metrics: [String: (queries: Int, errors: Int)]) throws {
        try guarded {
            try pool.write { db in
                for (shard, counts) in metrics {
                    try db.execute(
                        sql: """
                            INSERT INTO shard_stats (shard, query_count, error_count) VALUES (?, ?, ?)
                            ON CONFLICT (shard) DO UPDATE SET query_count = excluded.query_count, error_count = excluded.error_count
                            """,
                        arguments: [shard, counts.queries, counts.errors]
                    )
                }
            }
        }
    }
}
