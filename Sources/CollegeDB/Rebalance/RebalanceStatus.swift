/// Where a rebalance plan is in its life.
public enum RebalanceState: String, Sendable {
    /// Made and persisted; nothing moved yet.
    case planned
    /// A job is moving its records.
    case running
    /// The daemon stopped while its job ran; the job resumes at the next start.
    case paused
    /// Stopped by `cancelRebalance` after a whole batch; `executeRebalance` resumes it.
    case cancelled
    /// Every move is done or skipped.
    case done
    /// Stopped by an error that needs an operator (a shard down); `executeRebalance` resumes it.
    case failed
}

/// A rebalance plan's progress.
public struct RebalanceStatus: Sendable, Hashable {
    public var planID: Int64
    public var state: RebalanceState
    /// Moves in the plan (one per record).
    public var records: Int
    public var recordsMoved: Int
    public var rowsMoved: Int
    /// Moves left undone because the record changed, moved or vanished since planning, or
    /// because its rows could not be copied; each is listed with its reason.
    public var skipped: Int
    /// How long the plan's job has run, over all its runs.
    public var runningMilliseconds: Int64
    /// The throttle in force, in rows per second; nil when unthrottled.
    public var throttle: Double?
    /// The most recent errors (at most 100).
    public var errors: [String]
    /// Whether the engine planned it by itself (``AutoRebalancePolicy``).
    public var automatic: Bool

    /// Rows moved per second of running.
    public var rowsPerSecond: Double {
        runningMilliseconds > 0 ? Double(rowsMoved) * 1000 / Double(runningMilliseconds) : 0
    }

    /// ``rowsPerSecond`` as a whole number, as logs and the status line show it.
    public var wholeRowsPerSecond: Int64 { Int64(exactly: rowsPerSecond.rounded()) ?? (rowsPerSecond > 0 ? .max : 0) }

    /// Records moved or skipped so far. The counts come from the store, so the sum saturates
    /// rather than trusting them to be small.
    public var recordsFinished: Int {
        let (sum, overflow) = recordsMoved.addingReportingOverflow(skipped)
        return overflow ? (skipped > 0 ? .max : .min) : sum
    }

    /// The share of the records finished, from 0 to 100.
    public var percentDone: Int {
        guard records > 0 else { return 100 }
        return Int(min(100, max(0, Double(recordsFinished) * 100 / Double(records))))
    }

    /// Seconds until every move is done at the rate so far; nil before there is a rate.
    public var etaSeconds: Double? {
        let finished = recordsFinished
        guard finished > 0, runningMilliseconds > 0 else { return state == .done ? 0 : nil }
        return (Double(records) - Double(finished)) * Double(runningMilliseconds) / 1000 / Double(finished)
    }
}
