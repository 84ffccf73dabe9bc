/// When and how fast the engine rebalances by itself (`autoRebalance` in the daemon's config).
/// Off unless configured. Each check counts the records per shard; when the distribution has
/// left the tolerance, it plans as `generateRebalancePlan` does and runs the plan as a
/// throttled job, marked automatic.
public struct AutoRebalancePolicy: Sendable, Hashable {
    /// A check plans when a shard that takes new keys holds more than `tolerance` times the
    /// mean, or less than the mean divided by it (a new, empty shard). The default is 1.2.
    public var tolerance: Double
    /// The throttle of the jobs it starts, in rows per second; nil runs them unthrottled. The
    /// default is 5,000.
    public var rowsPerSecond: Double?
    /// When set, jobs start only inside this daily window, and an automatic job still running
    /// when it closes is cancelled after its batch (the next window plans afresh). The default
    /// is nil: any time.
    public var quietHours: QuietHours?
    /// How often the distribution is checked. The default is 300 seconds.
    public var checkInterval: Duration
    /// With fewer mapped records than this, nothing is planned: small counts are noise. The
    /// default is 1,000.
    public var minimumRecords: Int
    /// At most this many moves per plan; nil for no limit. The default is nil.
    public var maxMoves: Int?

    /// - Parameters:
    ///   - tolerance: How far from the mean a shard may be before a check plans; at least 1.
    ///   - rowsPerSecond: The jobs' throttle; nil for none.
    ///   - quietHours: The daily window in which jobs may run; nil for any time.
    ///   - checkInterval: How often the distribution is checked.
    ///   - minimumRecords: The fewest mapped records worth rebalancing.
    ///   - maxMoves: The most moves per plan; nil for no limit.
    public init(
        tolerance: Double = 1.2,
        rowsPerSecond: Double? = 5000,
        quietHours: QuietHours? = nil,
        checkInterval: Duration = .seconds(300),
        minimumRecords: Int = 1000,
        maxMoves: Int? = nil
    ) {
        self.tolerance = tolerance
        self.rowsPerSecond = rowsPerSecond
        self.quietHours = quietHours
        self.checkInterval = checkInterval
        self.minimumRecords = minimumRecords
        self.maxMoves = maxMoves
    }

    /// How far the distribution is from the mean: the larger of the most loaded shard over the
    /// mean and the mean over the least loaded, among the shards that take new keys; 1 when
    /// perfectly even, infinity when one of them is empty while others are not.
    static func imbalance(of distribution: ShardDistribution) -> Double {
        let counts = distribution.shards.filter { !$0.draining }.map { Double($0.records) }
        guard let least = counts.min(), distribution.mean > 0 else { return 1 }
        let underLoaded = least > 0 ? distribution.mean / least : .infinity
        return max(distribution.maxOverMean, underLoaded)
    }
}
