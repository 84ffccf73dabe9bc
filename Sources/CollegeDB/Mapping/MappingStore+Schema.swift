import GRDB

extension MappingStore {
    /// The mapping store's schema, applied in order and recorded by GRDB's migrator.
    ///
    /// A record is one row of `record`, which holds its first lookup key; each further key is a
    /// row of `additional_key`, and the view `lookup_key` shows them all. The store's writes
    /// check that a key belongs to at most one record (`recordOfKeySQL`).
    /// `shard_stats.record_count` is kept exact by triggers, in the same transaction as the
    /// change that moves it. `shard_registry` holds shards added by `registerShard`
    /// (registered 1) and configured shards removed by `unregisterShard` (registered 0).
    /// `move_intent` holds each `reassignShard`, and each batch of a rebalance, until it is
    /// done. `rebalance_plan` and `rebalance_move` hold rebalance plans, their moves and their
    /// progress; `draining_shard` the shards a drain plan keeps from new keys; `shard_adoption`
    /// whether each shard's existing rows were adopted (or it never needed it); `schema_change`
    /// and `schema_change_shard` the schema changes and the shards that have each.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE meta (name TEXT PRIMARY KEY, value ANY) WITHOUT ROWID;
                    CREATE TABLE record (
                        id INTEGER PRIMARY KEY,
                        shard TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL
                    );
                    CREATE INDEX record_by_shard ON record (shard, id);
                    CREATE TABLE lookup_key (
                        key BLOB PRIMARY KEY,
                        record_id INTEGER NOT NULL REFERENCES record (id) ON DELETE CASCADE
                    ) WITHOUT ROWID;
                    CREATE INDEX lookup_key_by_record ON lookup_key (record_id);
                    CREATE TABLE shard_stats (
                        shard TEXT PRIMARY KEY,
                        record_count INTEGER NOT NULL DEFAULT 0 CHECK (record_count >= 0),
                        last_updated INTEGER
                    ) WITHOUT ROWID;
                    \(recordCountTriggers)
                    """
            )
        }
        migrator.registerMigration("v2") { db in
            try db.execute(
                sql: """
                    CREATE TABLE shard_registry (
                        name TEXT PRIMARY KEY,
                        path TEXT,
                        registered INTEGER NOT NULL CHECK (registered IN (0, 1)),
                        position INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    ALTER TABLE shard_stats ADD COLUMN query_count INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE shard_stats ADD COLUMN error_count INTEGER NOT NULL DEFAULT 0;
                    CREATE TABLE move_intent (
                        id INTEGER PRIMARY KEY,
                        record_id INTEGER NOT NULL,
                        from_shard TEXT NOT NULL,
                        to_shard TEXT NOT NULL,
                        plan TEXT NOT NULL,
                        state TEXT NOT NULL CHECK (state IN ('copying', 'flipped')),
                        created_at INTEGER NOT NULL
                    );
                    """
            )
        }
        migrator.registerMigration("v3") { db in
            try db.execute(
                sql: """
                    ALTER TABLE move_intent ADD COLUMN plan_id INTEGER;
                    ALTER TABLE move_intent ADD COLUMN record_ids TEXT;
                    CREATE TABLE rebalance_plan (
                        id INTEGER PRIMARY KEY,
                        created_at INTEGER NOT NULL,
                        strategy TEXT NOT NULL,
                        state TEXT NOT NULL
                            CHECK (state IN ('planned', 'running', 'paused', 'cancelled', 'done', 'failed')),
                        drain TEXT NOT NULL,
                        tolerance REAL NOT NULL,
                        rows_per_second REAL,
                        records INTEGER NOT NULL,
                        records_moved INTEGER NOT NULL DEFAULT 0,
                        rows_moved INTEGER NOT NULL DEFAULT 0,
                        skipped INTEGER NOT NULL DEFAULT 0,
                        running_milliseconds INTEGER NOT NULL DEFAULT 0,
                        unmapped_rows INTEGER NOT NULL DEFAULT 0,
                        errors TEXT NOT NULL DEFAULT '[]'
                    );
                    CREATE TABLE rebalance_move (
                        plan_id INTEGER NOT NULL REFERENCES rebalance_plan (id) ON DELETE CASCADE,
                        record_id INTEGER NOT NULL,
                        from_shard TEXT NOT NULL,
                        to_shard TEXT NOT NULL,
                        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'moved', 'skipped')),
                        note TEXT,
                        PRIMARY KEY (plan_id, record_id)
                    ) WITHOUT ROWID;
                    CREATE INDEX rebalance_move_pending ON rebalance_move (plan_id, state, from_shard, to_shard);
                    CREATE TABLE draining_shard (shard TEXT PRIMARY KEY, plan_id INTEGER NOT NULL) WITHOUT ROWID;
                    """
            )
        }
        migrator.registerMigration("v4") { db in
            try db.execute(sql: "ALTER TABLE rebalance_plan ADD COLUMN automatic INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v5") { db in
            // Shards this store already served are the daemon's own: nothing to adopt there.
            try db.execute(
                sql: """
                    CREATE TABLE shard_adoption (
                        shard TEXT PRIMARY KEY,
                        state TEXT NOT NULL CHECK (state IN ('native', 'adopting', 'adopted')),
                        tables TEXT NOT NULL,
                        table_index INTEGER NOT NULL DEFAULT 0,
                        cursor BLOB, -- any type: the last key done, as the shard holds it
                        keys_seen INTEGER NOT NULL DEFAULT 0,
                        mappings_created INTEGER NOT NULL DEFAULT 0,
                        already_mapped INTEGER NOT NULL DEFAULT 0,
                        conflicts INTEGER NOT NULL DEFAULT 0,
                        conflict_sample TEXT NOT NULL DEFAULT '[]',
                        started_at INTEGER NOT NULL,
                        finished_at INTEGER
                    ) WITHOUT ROWID;
                    INSERT INTO shard_adoption (shard, state, tables, started_at, finished_at)
                        SELECT shard, 'native', '[]', 0, 0 FROM shard_stats;
                    """
            )
        }
        migrator.registerMigration("v6") { db in
            // Denser (under 100 bytes per key instead of 140): a record holds its first key, so
            // a key no longer stands twice (in its own row and in an index by record); only
            // additional keys have rows of their own. Digests are found by an index of their
            // first 4 bytes, plain keys by their text. The first key kept is the least one.
            try db.execute(
                sql: """
                    ALTER TABLE record RENAME TO record_v5;
                    ALTER TABLE lookup_key RENAME TO lookup_key_v5;
                    CREATE TABLE record (
                        id INTEGER PRIMARY KEY,
                        shard TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL,
                        key BLOB NOT NULL
                    );
                    INSERT INTO record (id, shard, created_at, updated_at, key)
                        SELECT r.id, r.shard, r.created_at, r.updated_at, k.key
                        FROM record_v5 r
                        JOIN (SELECT record_id, min(key) AS key FROM lookup_key_v5 GROUP BY record_id) k
                            ON k.record_id = r.id
                        ORDER BY r.id;
                    CREATE TABLE additional_key (
                        key BLOB PRIMARY KEY,
                        record_id INTEGER NOT NULL REFERENCES record (id) ON DELETE CASCADE
                    ) WITHOUT ROWID;
                    INSERT INTO additional_key (key, record_id)
                        SELECT k.key, k.record_id FROM lookup_key_v5 k JOIN record r ON r.id = k.record_id
                        WHERE k.key <> r.key;
                    DROP TABLE lookup_key_v5;
                    DROP TABLE record_v5;
                    CREATE INDEX record_by_shard ON record (shard, id);
                    CREATE INDEX record_by_first_key ON record (\(firstKeyLocator(of: "key")));
                    CREATE INDEX additional_key_by_record ON additional_key (record_id);
                    CREATE VIEW lookup_key (key, record_id) AS
                        SELECT key, id FROM record UNION ALL SELECT key, record_id FROM additional_key;
                    \(recordCountTriggers)
                    UPDATE shard_stats
                        SET record_count = (SELECT count(*) FROM record WHERE record.shard = shard_stats.shard);
                    """
            )
        }
        migrator.registerMigration("v7") { db in
            // Counts saturate at Int64.max: an integer sum past it was stored as a REAL, which
            // no reader expects. Such a count is recounted; a kept query or error count that is
            // not an integer starts again from 0.
            try db.execute(
                sql: """
                    DROP TRIGGER record_inserted;
                    DROP TRIGGER record_deleted;
                    DROP TRIGGER record_moved;
                    \(recordCountTriggers)
                    UPDATE shard_stats
                        SET record_count = (SELECT count(*) FROM record WHERE record.shard = shard_stats.shard)
                        WHERE typeof(record_count) <> 'integer' OR record_count < 0;
                    UPDATE shard_stats SET query_count = 0 WHERE typeof(query_count) <> 'integer';
                    UPDATE shard_stats SET error_count = 0 WHERE typeof(error_count) <> 'integer';
                    """
            )
        }
        migrator.registerMigration("v8") { db in
            try db.execute(sql: schemaChangeTables)
        }
        return migrator
    }

    /// The triggers that keep `shard_stats.record_count` exact, in the transaction that changes
    /// it; a count at `Int64.max` (an administrator's override) stays there.
    private static let recordCountTriggers = """
            CREATE TRIGGER record_inserted AFTER INSERT ON record BEGIN
                INSERT INTO shard_stats (shard, record_count, last_updated)
                    VALUES (NEW.shard, 1, NEW.updated_at)
                    ON CONFLICT (shard) DO UPDATE
                    SET record_count = record_count + (record_count < 9223372036854775807),
                        last_updated = NEW.updated_at;
            END;
            CREATE TRIGGER record_deleted AFTER DELETE ON record BEGIN
                UPDATE shard_stats
                    SET record_count = max(record_count - 1, 0),
                        last_updated = CAST(unixepoch('subsec') * 1000 AS INTEGER)
                    WHERE shard = OLD.shard;
            END;
            CREATE TRIGGER record_moved AFTER UPDATE OF shard ON record
            WHEN OLD.shard <> NEW.shard BEGIN
                UPDATE shard_stats
                    SET record_count = max(record_count - 1, 0), last_updated = NEW.updated_at
                    WHERE shard = OLD.shard;
                INSERT INTO shard_stats (shard, record_count, last_updated)
                    VALUES (NEW.shard, 1, NEW.updated_at)
                    ON CONFLICT (shard) DO UPDATE
                    SET record_count = record_count + (record_count < 9223372036854775807),
                        last_updated = NEW.updated_at;
            END;
        """

    /// The value by which `record_by_first_key` finds a first key given as `operand` (a column
    /// or a parameter): the first 4 bytes of a digest, or a plain key's whole text. A lookup
    /// compares this and then the whole key: with 10 million keys, about one lookup in 400
    /// meets a second record with the same 4 bytes and reads one more row.
    static func firstKeyLocator(of operand: String) -> String {
        "(CASE WHEN typeof(\(operand)) = 'blob' THEN substr(\(operand), 1, 4) ELSE \(operand) END)"
    }
}
