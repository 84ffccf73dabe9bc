/// What every shard did and holds, added up (``CollegeDB/shardTotals()``).
public struct ShardTotals: Sendable {
    /// Statements run on every shard, kept across restarts.
    public var statements = 0
    /// Statements that failed, kept across restarts.
    public var errors = 0
    /// The durations of the statements run since the start.
    package var durations = StatementDurations()
    /// SQLite shards open now.
    public var openSQLiteShards = 0
    /// SQLite shards opened since the start (a shard closed and opened again counts twice).
    public var sqliteShardOpens = 0
    /// SQLite shards closed since the start to keep at most `maxOpenShards` open.
    public var sqliteShardEvictions = 0
}
