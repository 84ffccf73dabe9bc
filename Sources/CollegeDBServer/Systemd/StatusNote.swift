import Synchronization

/// A line the daemon adds to its `STATUS=` until it is cleared, such as why the last reload was
/// refused, so that `systemctl status` shows it beside the summary.
public final class StatusNote: Sendable {
    private let text = Mutex<String?>(nil)

    public init() {}

    /// The note, or nil when there is none. The default is nil.
    public var current: String? { text.withLock { $0 } }

    /// Replaces the note; nil clears it.
    public func set(_ note: String?) { text.withLock { $0 = note } }
}
