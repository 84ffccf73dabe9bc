/// How a shard runs clients' statements. Every shard of a daemon shares one.
public struct ShardSettings: Sendable {
    /// What an acknowledged write survives.
    public enum Durability: String, Sendable, CaseIterable {
        /// An OS crash or a power loss: each commit waits for the disk (`synchronous = FULL`).
        case full
        /// A crash of the daemon only (`synchronous = NORMAL` in WAL mode).
        case normal

        var synchronousPragma: String { self == .full ? "FULL" : "NORMAL" }
    }

    /// The default is ``Durability/full``.
    public var durability: Durability
    /// What clients' statements may do. The default refuses transaction control, ATTACH,
    /// VACUUM, extensions, temporary objects and state-changing pragmas.
    public var policy: StatementPolicy
    /// How long one statement (or one `batch`) may run before it is interrupted with
    /// `STATEMENT_TIMEOUT`. The default is 5 seconds.
    public var statementTimeout: Duration
    /// How long a statement may run in the quick lane before it gives up its place there and
    /// runs again in the slow lane (reads) or on the writer's line (writes). The default is
    /// 10 milliseconds.
    public var quickBudget: Duration
    /// How long a read answered on an event loop (the thread that read the request) may run
    /// before it gives up there and runs again on a request thread. The default is 500
    /// microseconds.
    public var eventLoopBudget: Duration
    /// Readers in the quick lane. The default is 8.
    public var quickReaders: Int
    /// Readers in the slow lane, for reads that ran past the quick budget. The default is 2.
    public var slowReaders: Int
    /// Calls that may wait for the quick lane or the writer before `OVERLOADED`. The default
    /// is 256.
    public var queueLimit: Int
    /// Calls that may wait for the slow lane before `OVERLOADED`. The default is 8.
    public var slowQueueLimit: Int
    /// The most bytes the rows of one statement's result may hold; a larger result is refused
    /// with `RESULT_TOO_LARGE` while it is read, so no query can exhaust memory. A fan-out
    /// holds up to this much per shard running at once. The default is 32 MiB.
    public var maximumResultBytes: Int
    /// The largest string or blob a statement may make (`SQLITE_LIMIT_LENGTH`), and the
    /// longest SQL text. The default is 64 MiB.
    public var maximumValueBytes: Int32
    /// Where `collegedb_id()` takes its ids on SQLite shards; the engine sets it from its
    /// catalog when it opens. Without it the function does not exist.
    package var identifiers: ClusterIdentifiers?
    /// How many SQLite shards may be open at once, shared by every shard of these settings.
    /// The default keeps 256 open.
    package var openShards = OpenShardSlots()

    /// Settings with each default stated on its property; name only what differs.
    public init(
        durability: Durability = .full,
        policy: StatementPolicy = try! StatementPolicy(),
        statementTimeout: Duration = .seconds(5),
        quickBudget: Duration = .milliseconds(10),
        eventLoopBudget: Duration = .microseconds(500),
        quickReaders: Int = 8,
        slowReaders: Int = 2,
        queueLimit: Int = 256,
        slowQueueLimit: Int = 8,
        maximumResultBytes: Int = 32 << 20,
        maximumValueBytes: Int32 = 64 << 20
    ) {
        self.maximumResultBytes = maximumResultBytes
        self.durability = durability
        self.policy = policy
        self.statementTimeout = statementTimeout
        self.quickBudget = quickBudget
        self.eventLoopBudget = eventLoopBudget
        self.quickReaders = quickReaders
        self.slowReaders = slowReaders
        self.queueLimit = queueLimit
        self.slowQueueLimit = slowQueueLimit
        self.maximumValueBytes = maximumValueBytes
    }

    /// The timing of one statement under `limits`: the shorter of the daemon's limit and the
    /// call's, and a quick attempt's `budget`.
    func timing(_ limits: QueryLimits, budget: Duration? = nil) -> StatementTiming {
        let limit = limits.timeout.map { min($0, statementTimeout) } ?? statementTimeout
        let now = ContinuousClock.now
        return StatementTiming(
            deadline: now + limit,
            timeLimit: limit,
            budgetEnd: budget.map { now + $0 },
            cancellation: limits.cancellation
        )
    }
}
