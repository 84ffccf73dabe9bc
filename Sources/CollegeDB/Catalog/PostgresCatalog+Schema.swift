import PostgresNIO

/// The catalog's tables, made at the first start of any daemon (under an advisory lock, so
/// that daemons starting together make them once):
///
/// - `collegedb.record`: one row per record, with its shard; `collegedb.lookup_key`: every key
///   of every record (its digest, or its text), the primary key that makes racing claims of
///   one key end with one winner.
/// - `collegedb.shard_stats`: each shard's record count, kept by statement triggers on
///   `record` (one count update per shard and statement), which also notify
///   `collegedb_mappings` with the ids of the records re-pointed or removed, comma-separated,
///   at most ``recordsPerNotification`` to a notification.
/// - `collegedb.shard_registry`, `collegedb.move_intent`, `collegedb.meta` (the key hashing
///   setting, the round-robin position, the schema version).
/// - `collegedb.rebalance_plan`, `collegedb.rebalance_move`: rebalance plans and their moves;
///   `collegedb.draining_shard`: the shards drain plans keep from new keys. Every change of it,
///   and of `collegedb.shard_registry`, notifies `collegedb_mappings` with `draining` or
///   `registry` (``SharedCatalogChange``).
/// - `collegedb.schema_change`, `collegedb.schema_change_shard`: schema changes, in order, and
///   the shards that have each (``SchemaChangeCatalog``).
extension PostgresCatalog {
    static let schemaVersion = "1"

    /// Creates what is missing and checks that the catalog keeps keys the way this daemon does.
    /// A catalog of HMAC digests also keeps the digest of a fixed text, so that a daemon with
    /// another `mapping.key` is refused rather than never finding the others' keys.
    func createSchema(hashing: String) throws {
        let check = keyCodec.displayed(keyCodec.storedValue(for: Self.keyCheckText))
        let stored = try run { connection in
            try await self.transaction(on: connection) {
                try await connection.queryWhileOpen(
                    "SELECT pg_advisory_xact_lock(\(Self.schemaLock))",
                    logger: self.logger
                )
                for statement in Self.schema {
                    try await connection.queryWhileOpen(PostgresQuery(unsafeSQL: statement), logger: self.logger)
                }
                try await connection.queryWhileOpen(
                    """
                    INSERT INTO collegedb.meta (name, value)
                    VALUES ('key_hashing', \(hashing)), ('key_check', \(check)),
                        ('schema_version', \(Self.schemaVersion)), (\(Self.roundRobinName), '0')
                    ON CONFLICT (name) DO NOTHING
                    """,
                    logger: self.logger
                )
                return try await Self.firstRow(
                    connection.queryWhileOpen(
                        """
                        SELECT h.value, c.value FROM collegedb.meta h, collegedb.meta c
                        WHERE h.name = 'key_hashing' AND c.name = 'key_check'
                        """,
                        logger: self.logger
                    ),
                    as: (String, String).self
                )
            }
        }
        guard stored?.0 == hashing else {
            throw CollegeDBError(
                .mappingStoreFailed,
                "the catalog at \(address) keeps \(stored?.0 ?? "unknown") keys, but this daemon is configured for "
                    + "\(hashing) keys; start it with the setting the catalog was made with"
            )
        }
        guard stored?.1 == check else {
            throw CollegeDBError(
                .mappingStoreFailed,
                "the catalog at \(address) was made with another HMAC secret than this daemon's mapping.key; "
                    + "give every daemon of the catalog the same mapping.key"
            )
        }
    }

    static let keyCheckText = "collegedb key check"

    /// The advisory lock that daemons creating the schema at once take in turn.
    static let schemaLock: Int64 = 0x636f_6c6c_6567_6564  // "colleged"

    /// Record ids per notification of moved or removed records: their text stays well under
    /// PostgreSQL's 8,000-byte payload limit.
    static let recordsPerNotification = 300

    /// How records counted by shard (`INSERT INTO collegedb.shard_stats AS s … SELECT shard,
    /// count, time`) are added to the counts kept: saturating at the largest count, so that a
    /// count set to it (an administrator's override) stays there.
    private static let addingToCounts = """
        ON CONFLICT (shard) DO UPDATE
        SET record_count = CASE WHEN s.record_count > 9223372036854775807 - EXCLUDED.record_count
                THEN 9223372036854775807 ELSE s.record_count + EXCLUDED.record_count END,
            last_updated = EXCLUDED.last_updated
        """

    static let schema = [
        "CREATE SCHEMA IF NOT EXISTS collegedb",
        "CREATE TABLE IF NOT EXISTS collegedb.meta (name text PRIMARY KEY, value text NOT NULL)",
        """
        CREATE TABLE IF NOT EXISTS collegedb.record (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            shard text NOT NULL,
            created_at bigint NOT NULL,
            updated_at bigint NOT NULL
        )
        """,
        "CREATE INDEX IF NOT EXISTS record_by_shard ON collegedb.record (shard, id)",
        """
        CREATE TABLE IF NOT EXISTS collegedb.lookup_key (
            key bytea PRIMARY KEY,
            record_id bigint NOT NULL REFERENCES collegedb.record (id) ON DELETE CASCADE
        )
        """,
        "CREATE INDEX IF NOT EXISTS lookup_key_by_record ON collegedb.lookup_key (record_id, key)",
        """
        CREATE TABLE IF NOT EXISTS collegedb.shard_stats (
            shard text PRIMARY KEY,
            record_count bigint NOT NULL DEFAULT 0 CHECK (record_count >= 0),
            last_updated bigint
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS collegedb.shard_registry (
            name text PRIMARY KEY,
            location text,
            registered boolean NOT NULL,
            position bigint NOT NULL
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS collegedb.move_intent (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            record_id bigint NOT NULL,
            from_shard text NOT NULL,
            to_shard text NOT NULL,
            plan text NOT NULL,
            state text NOT NULL CHECK (state IN ('copying', 'flipped')),
            created_at bigint NOT NULL
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS collegedb.rebalance_plan (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            created_at bigint NOT NULL,
            strategy text NOT NULL,
            state text NOT NULL CHECK (state IN ('planned', 'running', 'paused', 'cancelled', 'done', 'failed')),
            drain text NOT NULL,
            tolerance double precision NOT NULL,
            rows_per_second double precision,
            records bigint NOT NULL,
            records_moved bigint NOT NULL DEFAULT 0,
            rows_moved bigint NOT NULL DEFAULT 0,
            skipped bigint NOT NULL DEFAULT 0,
            running_milliseconds bigint NOT NULL DEFAULT 0,
            unmapped_rows bigint NOT NULL DEFAULT 0,
            errors text NOT NULL DEFAULT '[]',
            automatic boolean NOT NULL DEFAULT false
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS collegedb.rebalance_move (
            plan_id bigint NOT NULL REFERENCES collegedb.rebalance_plan (id) ON DELETE CASCADE,
            record_id bigint NOT NULL,
            from_shard text NOT NULL,
            to_shard text NOT NULL,
            state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'moved', 'skipped')),
            note text,
            PRIMARY KEY (plan_id, record_id)
        )
        """,
        """
        CREATE INDEX IF NOT EXISTS rebalance_move_pending
            ON collegedb.rebalance_move (plan_id, state, from_shard, to_shard, record_id)
        """,
        "CREATE TABLE IF NOT EXISTS collegedb.draining_shard (shard text PRIMARY KEY, plan_id bigint NOT NULL)",
        """
        CREATE OR REPLACE FUNCTION collegedb.shared_state_changed() RETURNS trigger LANGUAGE plpgsql AS $body$
        BEGIN
            PERFORM pg_notify('collegedb_mappings', TG_ARGV[0]);
            RETURN NULL;
        END
        $body$
        """,
        """
        CREATE OR REPLACE TRIGGER draining_changed
            AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON collegedb.draining_shard
            FOR EACH STATEMENT EXECUTE FUNCTION collegedb.shared_state_changed('draining')
        """,
        """
        CREATE OR REPLACE TRIGGER registry_changed
            AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON collegedb.shard_registry
            FOR EACH STATEMENT EXECUTE FUNCTION collegedb.shared_state_changed('registry')
        """,
        """
        CREATE OR REPLACE FUNCTION collegedb.notify_records(ids bigint[]) RETURNS void LANGUAGE plpgsql AS $body$
        DECLARE
            ids_text text;
        BEGIN
            FOR ids_text IN
                SELECT string_agg(id::text, ',') FROM (
                    SELECT id, (row_number() OVER () - 1) / \(recordsPerNotification) AS part FROM unnest(ids) AS id
                ) numbered GROUP BY part
            LOOP
                PERFORM pg_notify('collegedb_mappings', ids_text);
            END LOOP;
        END
        $body$
        """,
        """
        CREATE OR REPLACE FUNCTION collegedb.records_inserted() RETURNS trigger LANGUAGE plpgsql AS $body$
        BEGIN
            INSERT INTO collegedb.shard_stats AS s (shard, record_count, last_updated)
                SELECT shard, count(*), max(updated_at) FROM new_records GROUP BY shard
                \(addingToCounts);
            RETURN NULL;
        END
        $body$
        """,
        """
        CREATE OR REPLACE FUNCTION collegedb.records_moved() RETURNS trigger LANGUAGE plpgsql AS $body$
        DECLARE
            now_ms bigint := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
        BEGIN
            -- Leaving, then arriving, as two statements: one statement may not change a
            -- shard's count twice (a swap of two shards' records moves both ways).
            UPDATE collegedb.shard_stats s SET record_count = greatest(s.record_count - l.n, 0), last_updated = now_ms
                FROM (
                    SELECT o.shard, count(*) AS n FROM old_records o JOIN new_records n ON n.id = o.id
                    WHERE o.shard <> n.shard GROUP BY o.shard
                ) l
                WHERE s.shard = l.shard;
            INSERT INTO collegedb.shard_stats AS s (shard, record_count, last_updated)
                SELECT n.shard, count(*), max(n.updated_at) FROM old_records o JOIN new_records n ON n.id = o.id
                WHERE o.shard <> n.shard GROUP BY n.shard
                \(addingToCounts);
            PERFORM collegedb.notify_records(ARRAY(
                SELECT o.id FROM old_records o JOIN new_records n ON n.id = o.id WHERE o.shard <> n.shard
            ));
            RETURN NULL;
        END
        $body$
        """,
        """
        CREATE OR REPLACE FUNCTION collegedb.records_deleted() RETURNS trigger LANGUAGE plpgsql AS $body$
        BEGIN
            UPDATE collegedb.shard_stats s
                SET record_count = greatest(s.record_count - d.n, 0),
                    last_updated = (extract(epoch FROM clock_timestamp()) * 1000)::bigint
                FROM (SELECT shard, count(*) AS n FROM old_records GROUP BY shard) d WHERE s.shard = d.shard;
            PERFORM collegedb.notify_records(ARRAY(SELECT id FROM old_records));
            RETURN NULL;
        END
        $body$
        """,
        """
        CREATE OR REPLACE TRIGGER records_inserted AFTER INSERT ON collegedb.record
            REFERENCING NEW TABLE AS new_records FOR EACH STATEMENT EXECUTE FUNCTION collegedb.records_inserted()
        """,
        """
        CREATE OR REPLACE TRIGGER records_moved AFTER UPDATE ON collegedb.record
            REFERENCING OLD TABLE AS old_records NEW TABLE AS new_records
            FOR EACH STATEMENT EXECUTE FUNCTION collegedb.records_moved()
        """,
        """
        CREATE OR REPLACE TRIGGER records_deleted AFTER DELETE ON collegedb.record
            REFERENCING OLD TABLE AS old_records FOR EACH STATEMENT EXECUTE FUNCTION collegedb.records_deleted()
        """,
        // The per-row trigger of earlier versions counted and notified record by record; where it
        // is still there, it goes, and the counts it kept are recounted once.
        """
        DO $body$ BEGIN
            IF EXISTS (
                SELECT 1 FROM pg_trigger WHERE tgname = 'record_changed' AND tgrelid = 'collegedb.record'::regclass
            ) THEN
                DROP TRIGGER record_changed ON collegedb.record;
                DROP FUNCTION IF EXISTS collegedb.record_changed();
                UPDATE collegedb.shard_stats s
                    SET record_count = (SELECT count(*) FROM collegedb.record r WHERE r.shard = s.shard);
            END IF;
        END $body$
        """,
        """
        CREATE TABLE IF NOT EXISTS collegedb.schema_change (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name text NOT NULL UNIQUE,
            sql text NOT NULL,
            state text NOT NULL CHECK (state IN ('running', 'paused', 'done', 'failed')),
            canary bigint,
            failures text NOT NULL DEFAULT '[]',
            created_at bigint NOT NULL,
            attempt bigint NOT NULL DEFAULT 0
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS collegedb.schema_change_shard (
            change_id bigint NOT NULL REFERENCES collegedb.schema_change (id),
            shard text NOT NULL,
            applied_at bigint NOT NULL,
            PRIMARY KEY (change_id, shard)
        )
        """,
        """
        CREATE INDEX IF NOT EXISTS schema_change_shard_by_shard ON collegedb.schema_change_shard (shard, change_id)
        """,
    ]
}
