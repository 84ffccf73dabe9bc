/// Keeps a recorded record count in 0...`Int64.max` when `delta` is added to it, in both
/// catalogs: SQLite turns an overflowing integer sum into a REAL (which no reader expects), and
/// PostgreSQL fails the statement. The stored count is first held in 0...``ceiling(adding:)``.
enum RecordCountBounds {
    /// The greatest count `delta` may be added to: `Int64.max - delta` for a positive delta.
    static func ceiling(adding delta: Int64) -> Int64 { delta > 0 ? Int64.max - delta : Int64.max }
}
