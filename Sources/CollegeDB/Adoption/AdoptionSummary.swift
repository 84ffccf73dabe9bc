/// What an adoption did (or, as a dry run, would do) with a shard's existing keys.
public struct AdoptionSummary: Sendable, Hashable {
    /// A key found in the shard that is mapped to another shard: reported, never re-pointed.
    public struct Conflict: Sendable, Hashable, Codable {
        public var key: String
        /// The shard being adopted, which holds rows of the key.
        public var shard: String
        /// The shard the key is mapped to.
        public var mappedTo: String
    }

    /// What one chunk of keys did.
    struct Chunk: Sendable {
        var keysSeen = 0
        var created = 0
        var alreadyMapped = 0
        var conflicts: [Conflict] = []
    }

    /// How many conflicts are kept to report; all are counted.
    static let conflictSampleSize = 100

    public var shard: String
    /// The owned tables whose keys were mapped.
    public var tables: [String]
    /// Distinct keys read from the tables (a key in several tables counts once per table).
    public var keysSeen: Int
    public var mappingsCreated: Int
    /// Keys that were mapped to this shard already.
    public var alreadyMapped: Int
    public var conflictCount: Int
    /// The first conflicts (at most 100).
    public var conflicts: [Conflict]
    /// Milliseconds since 1970.
    public var startedAt: Int64
    public var finishedAt: Int64?

    /// Nothing done yet, from now.
    static func starting(shard: String, tables: [String]) -> AdoptionSummary {
        AdoptionSummary(
            shard: shard,
            tables: tables,
            keysSeen: 0,
            mappingsCreated: 0,
            alreadyMapped: 0,
            conflictCount: 0,
            conflicts: [],
            startedAt: MappingStore.nowMilliseconds(),
            finishedAt: nil
        )
    }

    mutating func add(_ chunk: Chunk) {
        keysSeen += chunk.keysSeen
        mappingsCreated += chunk.created
        alreadyMapped += chunk.alreadyMapped
        conflictCount += chunk.conflicts.count
        conflicts += chunk.conflicts.prefix(Self.conflictSampleSize - conflicts.count)
    }
}
