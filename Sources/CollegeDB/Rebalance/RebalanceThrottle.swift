/// The range of a rebalance's `rowsPerSecond`: from 1 (which keeps a throttle's pauses within
/// `Duration`'s range) to 1,000,000,000 (far above any copy rate, and small enough that every
/// number computed from it fits an integer).
public enum RebalanceThrottle {
    /// The throttles accepted.
    public static let range: ClosedRange<Double> = 1...1_000_000_000

    /// Whether `rowsPerSecond` is a throttle (false for NaN and the infinities too).
    public static func isValid(_ rowsPerSecond: Double) -> Bool { range.contains(rowsPerSecond) }

    /// Why `rowsPerSecond` is refused.
    static let requirement = "must be between 1 and 1,000,000,000 rows a second"
}
