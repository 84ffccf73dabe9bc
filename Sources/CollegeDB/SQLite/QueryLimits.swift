import Synchronization

/// How long one call's statements may run, and whether the caller still wants the answer.
public struct QueryLimits: Sendable {
    /// The call's own time limit; the daemon's statement timeout still applies when it is
    /// shorter. The default is nil: the daemon's limit alone.
    public var timeout: Duration?
    /// Set when the caller went away: its running statement is interrupted. The default is nil.
    public var cancellation: CancellationFlag?

    public init(timeout: Duration? = nil, cancellation: CancellationFlag? = nil) {
        self.timeout = timeout
        self.cancellation = cancellation
    }

    /// The same limits for a write: a write that was received runs to its end (or its time
    /// limit) even when its caller goes away, so that nothing the caller sent is half-lost.
    var forWrite: QueryLimits { QueryLimits(timeout: timeout) }
}

/// A flag that one side raises and a running statement checks between SQLite's VM steps.
public final class CancellationFlag: Sendable {
    private let raised = Atomic(false)

    public init() {}

    /// Asks every statement watching this flag to stop.
    public func cancel() { raised.store(true, ordering: .relaxed) }

    public var isCancelled: Bool { raised.load(ordering: .relaxed) }
}
