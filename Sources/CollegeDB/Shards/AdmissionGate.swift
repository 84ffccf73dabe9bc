import Synchronization

/// Admission to a limited resource (a shard's writer, its quick or slow readers): at most
/// `capacity` holders at once, at most `queueLimit` waiting in arrival order, and beyond that
/// `OVERLOADED` at once. Waiting suspends a task; it never holds a thread, and a task cancelled
/// while it waits leaves the line at once.
final class AdmissionGate: Sendable {
    private struct State {
        var holders = 0
        /// The tasks waiting, in arrival order, each by a number of its own.
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
        var lastWaiter: UInt64 = 0
    }

    /// What the gate admits, for error messages: "the writer of shard 'db-1'".
    let subject: String
    let capacity: Int
    let queueLimit: Int
    private let state = Mutex(State())

    init(subject: String, capacity: Int, queueLimit: Int) {
        self.subject = subject
        self.capacity = capacity
        self.queueLimit = queueLimit
    }

    /// Enters when a place is free now; never waits.
    func tryEnter() -> Bool {
        state.withLock { state in
            guard state.holders < capacity, state.waiters.isEmpty else { return false }
            state.holders += 1
            return true
        }
    }

    /// Enters, waiting in line when every place is taken.
    /// - Throws: `OVERLOADED` when the line is full; `CancellationError` when the task is
    ///   cancelled before it gets a place.
    func enter() async throws {
        enum Admission { case entered, full, queued, cancelled }
        var admission = Admission.full
        let waiter = state.withLock { state in
            state.lastWaiter &+= 1
            return state.lastWaiter
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                admission = state.withLock { state in
                    if state.holders < capacity, state.waiters.isEmpty {
                        state.holders += 1
                        return .entered
                    }
                    guard !Task.isCancelled else { return .cancelled }
                    guard state.waiters.count < queueLimit else { return .full }
                    state.waiters.append((waiter, continuation))
                    return .queued
                }
                if admission != .queued { continuation.resume() }
            }
        } onCancel: {
            let continuation = state.withLock { state in
                state.waiters.firstIndex { $0.id == waiter }.map { state.waiters.remove(at: $0).continuation }
            }
            continuation?.resume(throwing: CancellationError())
        }
        switch admission {
        case .entered, .queued: return
        case .cancelled: throw CancellationError()
        case .full:
            throw CollegeDBError(
                .overloaded,
                "\(subject) is busy and \(queueLimit) calls already wait for it; try again later"
            )
        }
    }

    /// Leaves; the first waiter, if any, takes the place.
    func leave() {
        let next = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            guard !state.waiters.isEmpty else {
                state.holders -= 1
                return nil
            }
            return state.waiters.removeFirst().continuation
        }
        next?.resume()
    }

    /// Runs `body` holding a place, waiting for one first.
    func holding<T>(_ body: () async throws -> T) async throws -> T {
        try await enter()
        defer { leave() }
        return try await body()
    }
}
