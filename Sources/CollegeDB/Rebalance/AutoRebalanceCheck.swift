/// What one automatic rebalancing check found and did.
public enum AutoRebalanceCheck: Sendable, Equatable {
    /// No `autoRebalance` policy is configured.
    case off
    /// A plan runs already (started by hand or by an earlier check).
    case jobRunning(planID: Int64)
    /// Fewer records are mapped than the policy's minimum.
    case tooFewRecords(Int)
    /// Every shard that takes new keys is within the tolerance; `imbalance` says how close.
    case balanced(imbalance: Double)
    /// Out of tolerance, but the plan would move nothing: under `hash` every record is where
    /// its rendezvous choice puts it (the spread is the hash's, or the shards' weights').
    case nothingToMove(imbalance: Double)
    /// Out of tolerance outside the quiet hours: nothing starts until they open.
    case waitingForQuietHours(imbalance: Double, quietHours: QuietHours)
    /// The quiet hours closed while an automatic plan ran: it was cancelled after its batch.
    case stoppedForQuietHours(planID: Int64)
    /// A plan was made and its job started.
    case started(planID: Int64, moves: Int, imbalance: Double)
    /// The check could not run (a shard or the mapping store failed); the next one retries.
    case failed(String)
}
