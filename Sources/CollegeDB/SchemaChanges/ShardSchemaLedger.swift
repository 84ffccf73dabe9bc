/// Each shard's ledger of the schema changes it ran: a table `_collegedb_schema_ledger (name,
/// applied_at)` in the shard itself (a SQLite shard's file; a PostgreSQL shard's first schema
/// of its search path). A change and its ledger row commit in one transaction, so a shard
/// either has both or neither, whatever crashes: the ledger, not the catalog, says whether a
/// shard has a change, and a change never runs twice on one shard. It lives in the shard so that
/// it travels with the shard's tables (a copied file, a backup, a restored database). The
/// daemon's tables (`_collegedb_…`) are left out of `listTables` and adoption, so an adopted
/// file gains this table and nothing else.
enum ShardSchemaLedger {
    static let table = "_collegedb_schema_ledger"

    /// Makes the ledger when it is missing; SQLite and PostgreSQL both read it.
    static let createTable = "CREATE TABLE IF NOT EXISTS \(table) (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)"

    /// `name` as an SQL string literal (names hold no control characters: ``SchemaChangeRules``).
    static func literal(_ name: String) -> String {
        "'" + name.replacingOccurrences(of: "'", with: "''") + "'"
    }
}
