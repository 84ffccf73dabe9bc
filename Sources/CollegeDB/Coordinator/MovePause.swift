import Synchronization

/// Lets a backup hold every move of rows between shards (and every re-pointed mapping and
/// schema change applied to a shard) while it copies: those under way finish first, and new
/// ones wait until the backup ends. They run together as ever; only a backup stops them, so
/// that nothing changes shard, and no shard's schema differs from what the catalog's copy says,
/// between the copies of two shards and the store's.
package final class MovePause: Sendable {
    private struct State {
        var moving = 0
        var paused = false
        /// Moves waiting for the pause to end.
        var waiting: [CheckedContinuation<Void, Never>] = []
        /// The pause waiting for the moves under way to end.
        var pausing: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    package init() {}

    /// Runs `move`, waiting first while moves are paused.
    package func duringMove<T>(_ move: () async throws -> T) async rethrows -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                guard !state.paused else {
                    state.waiting.append(continuation)
                    return false
                }
                state.moving += 1
                return true
            }
            if now { continuation.resume() }
        }
        defer {
            let pausing = state.withLock { state -> CheckedContinuation<Void, Never>? in
                state.moving -= 1
                guard state.moving == 0 else { return nil }
                defer { state.pausing = nil }
                return state.pausing
            }
            pausing?.resume()
        }
        return try await move()
    }

    /// Runs `body` once the moves under way have ended, with every new move waiting until it
    /// returns. One pause at a time: the caller makes sure of it.
    package func pausingMoves<T>(_ body: () async throws -> T) async rethrows -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                state.paused = true
                guard state.moving > 0 else { return true }
                state.pausing = continuation
                return false
            }
            if now { continuation.resume() }
        }
        defer {
            let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.paused = false
                state.moving += state.waiting.count
                defer { state.waiting = [] }
                return state.waiting
            }
            for move in waiting { move.resume() }
        }
        return try await body()
    }
}
