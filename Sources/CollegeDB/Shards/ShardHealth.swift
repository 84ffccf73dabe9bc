/// How a shard is doing, as `health` and `getShardMetadata` report it.
public enum ShardHealth: String, Sendable, Hashable {
    case ok
    /// The file is not writable; the shard does not serve.
    case readOnly = "read-only"
    /// The file could not be opened at start; the shard does not serve.
    case unavailable
    /// SQLite found the file corrupt or unreadable while running; the shard no longer serves.
    case failed
}
