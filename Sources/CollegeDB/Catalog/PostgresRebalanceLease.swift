import Synchronization

/// A daemon's hold on the shared catalog's rebalance lock: the task that took the lock keeps
/// its connection, waiting here, until ``release()``; then it unlocks and gives the connection
/// back to the pool.
final class PostgresRebalanceLease: RebalanceLease {
    private struct State {
        var granted: Bool?
        var decided: CheckedContinuation<Bool, Never>?
        var released = false
        var release: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// Whether the lock was had; called once by the task that asked for it.
    func granted(_ granted: Bool) {
        let waiter = state.withLock { state in
            state.granted = granted
            defer { state.decided = nil }
            return state.decided
        }
        waiter?.resume(returning: granted)
    }

    /// Whether the lock was had: the answer of `holder`, or its error when it failed first.
    func outcome(of holder: Task<Void, any Error>) async throws -> Bool {
        let answer = await withCheckedContinuation { continuation in
            let known = state.withLock { state in
                if state.granted == nil { state.decided = continuation }
                return state.granted
            }
            if let known { continuation.resume(returning: known) }
            Task {
                // The holder ended without deciding: it could not lease a connection.
                _ = await holder.result
                let waiter = self.state.withLock { state in
                    defer { state.decided = nil }
                    return state.granted == nil ? state.decided : nil
                }
                waiter?.resume(returning: false)
            }
        }
        if case .failure(let error) = await Self.finishedResult(of: holder, unless: answer) { throw error }
        return answer
    }

    /// The holder's failure when it ended without the lock; success while it holds it.
    private static func finishedResult(
        of holder: Task<Void, any Error>,
        unless granted: Bool
    ) async -> Result<Void, any Error> {
        guard !granted else { return .success(()) }
        return await holder.result
    }

    /// Returns once the lease is released.
    func waitForRelease() async {
        await withCheckedContinuation { continuation in
            let released = state.withLock { state in
                if !state.released { state.release = continuation }
                return state.released
            }
            if released { continuation.resume() }
        }
    }

    func release() async {
        let waiter = state.withLock { state in
            state.released = true
            defer { state.release = nil }
            return state.release
        }
        waiter?.resume()
    }
}
