/// What running a plan would do now (`executeRebalance` with `dryRun`).
public struct RebalanceDryRun: Sendable, Hashable {
    public var planID: Int64
    /// Pending moves whose record is still on its source.
    public var records: Int
    /// Rows those records own there.
    public var rows: Int
    /// Pending moves that would be skipped: the record moved or vanished since planning.
    public var skipped: Int
    /// Rows whose primary key already exists on their target, by table: such a row is never
    /// overwritten, so its record would not move and the plan would end `failed`.
    public var conflicts: [KeyConflict]

    /// Rows of one table whose primary keys are taken on the shards they would move to.
    public struct KeyConflict: Sendable, Hashable {
        public var table: String
        /// The primary key's column.
        public var column: String
        public var rows: Int
    }
}
