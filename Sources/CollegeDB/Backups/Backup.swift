/// What `backup` made: a data directory holding a consistent copy of the mapping store and of
/// every SQLite shard.
public struct Backup: Sendable, Hashable {
    /// Where the backup is (the path asked for).
    public var directory: String
    /// The shards copied, in shard order.
    public var shards: [String]
    /// What was not copied: PostgreSQL shards (back them up with `pg_dump` or the server's
    /// point-in-time recovery) and a shared catalog (`catalog`).
    public var skipped: [String]
    /// Bytes written.
    public var bytes: Int64
    /// How long it took.
    public var seconds: Double
}

/// How far the backup under way is, for the status line.
public struct BackupProgress: Sendable, Hashable {
    public var directory: String
    /// Shards copied so far.
    public var copied: Int
    /// Shards to copy.
    public var shards: Int
}
