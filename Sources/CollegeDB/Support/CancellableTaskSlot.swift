import Synchronization

/// Holds a task started on a caller's behalf, so that the caller's cancellation reaches it,
/// whether it comes before or after the task is held.
final class CancellableTaskSlot: Sendable {
    private let state = Mutex<(task: Task<Void, Never>?, cancelled: Bool)>((nil, false))

    /// Holds `task`; cancels it at once when the caller was cancelled already.
    func hold(_ task: Task<Void, Never>) {
        let cancelled = state.withLock { state in
            state.task = task
            return state.cancelled
        }
        if cancelled { task.cancel() }
    }

    /// Cancels the task held, or the one held next.
    func cancel() {
        state.withLock { state in
            state.cancelled = true
            return state.task
        }?.cancel()
    }
}
