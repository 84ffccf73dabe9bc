/// What running a plan would do now (`executeRebalance` with `dryRun`).
public struct RebalanceDryRun: Sendable, Hashable {
    public var planID: Int64
    /// Pending moves whose record is still on its source.
    public var records: Int
    /// Rows those records own there.
    public var rows: Int
    /// Pending moves that would be skipped: the record moved or vanished since planning.
    public var skipped: Int
}
