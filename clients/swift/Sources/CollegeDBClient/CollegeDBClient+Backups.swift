import CollegeDBJSON

/// Online backups of the mapping store and every SQLite shard.
extension CollegeDBClient {
    /// What a backup made.
    public struct Backup: Decodable, Sendable, Hashable {
        /// Where the backup is: a data directory `collegedbd --data-dir` starts on.
        public let directory: String
        /// The shards copied.
        public let shards: [String]
        /// What was not copied: PostgreSQL shards, and `catalog` for a shared catalog.
        public let skipped: [String]
        public let bytes: Int64
        public let seconds: Double
    }

    /// Copies the mapping store and every SQLite shard into `directory` (an absolute path that
    /// does not exist yet) while the daemon serves; returns once the backup is whole.
    @discardableResult
    public func backup(directory: String) async throws -> Backup {
        try await decoded(call("backup", .array([.string(directory)])))
    }
}
