import Synchronization

/// Admission to a limited resource (a shard's writer, its quick or slow readers): at most
/// `capacity` holders at once, at most `queueLimit` waiting in arrival order, and beyond that
/// `OVERLOADED` at once. Waiting suspends a task; it never holds a thread.
final class AdmissionGate: Sendable {
    private struct State {
        var holders = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
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
    /// - Throws: `OVERLOADED` when the line is full.
    func enter() async throws {
        enum Admission { case entered, full, queued }
        var admission = Admission.full
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            admission = state.withLock { state in
                if state.holders < capacity, state.waiters.isEmpty {
                    state.holders += 1
                    return .entered
                }
                guard state.waiters.count < queueLimit else { return .full }
                state.waiters.append(continuation)
                return .queued
            }
            if admission != .queued { continuation.resume() }
        }
        if admission == .full {
            throw CollegeDBError(
                .overloaded,
                "\(subject) is busy and \(queueLimit) calls already wait for it; try again later"
            )
        }
    }

    /// Leaves; the first waiter, if any, takes the place.
    func leave() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiters.isEmpty else {
                state.holders -= 1
                return nil
            }
            return state.waiters.removeFirst()
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
