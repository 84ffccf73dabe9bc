import Synchronization

/// A line the daemon adds to its `STATUS=` until it is cleared, such as why the last reload was
/// refused, so that `systemctl status` shows it beside the summary.
package final class StatusNote: Sendable {
    private let text = Mutex<String?>(nil)

    package init() {}

    /// The note, or nil when there is none. The default is nil.
    package var current: String? { text.withLock { $0 } }

    /// Replaces the note; nil clears it.
    package func set(_ note: String?) { text.withLock { $0 = note } }
}
