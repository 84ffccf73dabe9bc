import Dispatch
import Synchronization

/// Runs a shard's writes in groups that share one transaction and one commit: writes that arrive
/// while the writer is busy wait in line, and the next turn takes all of them (up to
/// `maximumGroup`). Each call runs in a SAVEPOINT of its own, so a failing call rolls back alone
/// and gets its own error; each answer is given only after the COMMIT that covers it returned.
/// When SQLite rolls the whole transaction back after a failure (it does for an interrupted
/// write, and may for a full disk or an I/O error), the calls that had succeeded run again in a
/// new transaction: no call is answered for work that did not commit.
///
/// With durable commits (`synchronous = FULL`) a group pays one wait for the disk instead of
/// one per call. A write that finds the writer idle and nothing waiting runs at once on the
/// caller's thread, as its own transaction.
final class GroupCommitter: Sendable {
    /// One call: its work on the writer (inside its savepoint), and how it is answered. The
    /// work keeps its own typed result until the answer, so nothing is cast back.
    private struct Job: Sendable {
        /// Runs the call's work on the writer, keeping its result for ``answer`` (a group that
        /// SQLite rolled back runs it again, and the result kept is the last one).
        let run: @Sendable (ClientConnection) throws -> Void
        /// Answers the call: with the kept result after a commit (nil), or with the failure.
        let answer: @Sendable ((any Error)?) -> Void

        init<T: Sendable>(
            _ work: @escaping @Sendable (ClientConnection) throws -> T,
            answer: @escaping @Sendable (Result<T, any Error>) -> Void
        ) {
            let kept = KeptResult<T>()
            run = { writer in
                kept.value.withLock { $0 = nil }
                let value = try work(writer)
                kept.value.withLock { $0 = value }
            }
            self.answer = { failure in
                if let failure { return answer(.failure(failure)) }
                guard let value = kept.value.withLock({ $0 }) else {
                    return answer(.failure(CollegeDBError(.internalError, "a write was answered before it ran")))
                }
                answer(.success(value))
            }
        }
    }

    /// Where a job keeps its result between its run and its answer.
    private final class KeptResult<T: Sendable>: Sendable {
        let value = Mutex<T?>(nil)
    }

    /// How a job of a group ended.
    private enum Outcome {
        case succeeded
        case failed(any Error)
    }

    private struct State {
        var waiting: [Job] = []
        var leading = false
    }

    let subject: String
    let queueLimit: Int
    let maximumGroup: Int
    /// Only the current leader uses it.
    let writer: ClientConnection
    private let state = Mutex(State())
    private let commits = Atomic(0)
    private let committedCalls = Atomic(0)

    /// Transactions committed, and the calls they carried (their ratio is the mean group size).
    var commitCounts: (commits: Int, calls: Int) {
        (commits.load(ordering: .relaxed), committedCalls.load(ordering: .relaxed))
    }

    init(subject: String, writer: ClientConnection, queueLimit: Int, maximumGroup: Int = 128) {
        self.subject = subject
        self.writer = writer
        self.queueLimit = queueLimit
        self.maximumGroup = maximumGroup
    }

    /// Runs `work` at once on this thread, as its own transaction, when the writer is idle and
    /// no call waits; returns nil without running it otherwise, or when it ran past its quick
    /// budget (it was rolled back whole).
    ///
    /// The transaction is explicit, and committed only once `work` returned: SQLite checks its
    /// progress handler once more after a statement in autocommit mode has committed, so an
    /// over-budget interruption can be reported for a write that is already on disk. Run again,
    /// that write would happen twice.
    func runAloneIfIdle(_ work: (ClientConnection) throws -> QueryResult) throws -> QueryResult? {
        let lead = state.withLock { state -> Bool in
            guard !state.leading, state.waiting.isEmpty else { return false }
            state.leading = true
            return true
        }
        guard lead else { return nil }
        defer {
            writer.resetAfterCall()
            handOver()
        }
        do {
            try writer.executeInternal("BEGIN IMMEDIATE")
            let result = try work(writer)
            try writer.executeInternal("COMMIT")
            commits.add(1, ordering: .relaxed)
            committedCalls.add(1, ordering: .relaxed)
            return result
        } catch ClientConnection.Interruption.budget {
            return nil
        }
    }

    /// Threads (of every shard) that wait in `runInGroupBlocking` now, and how many may.
    private static let blockedThreads = Atomic(0)
    static let maximumBlockedThreads = 12

    /// Runs `work` in the next group, waiting on this thread for the group's commit, so that a
    /// write from a request thread needs no task. Returns nil, having done nothing, when
    /// ``maximumBlockedThreads`` threads already wait this way (the caller then uses `submit`),
    /// so that writes can never take every request thread.
    func runInGroupBlocking<T: Sendable>(_ work: @escaping @Sendable (ClientConnection) throws -> T) throws -> T? {
        guard Self.blockedThreads.add(1, ordering: .relaxed).newValue <= Self.maximumBlockedThreads else {
            Self.blockedThreads.subtract(1, ordering: .relaxed)
            return nil
        }
        defer { Self.blockedThreads.subtract(1, ordering: .relaxed) }
        let committed = DispatchSemaphore(value: 0)
        let outcome = KeptResult<Result<T, any Error>>()
        try enqueue(
            Job(work) { result in
                outcome.value.withLock { $0 = result }
                committed.signal()
            }
        )
        committed.wait()
        guard let result = outcome.value.withLock({ $0 }) else {
            throw CollegeDBError(.internalError, "a write was answered without a result")
        }
        return try result.get()
    }

    /// Puts `work` in the next group without waiting; `answer` gets its outcome, on the
    /// committing thread, once the group committed.
    /// - Throws: `OVERLOADED` when the line is full (and then `answer` is never called).
    func enqueue<T: Sendable>(
        _ work: @escaping @Sendable (ClientConnection) throws -> T,
        answer: @escaping @Sendable (Result<T, any Error>) -> Void
    ) throws {
        try enqueue(Job(work, answer: answer))
    }

    /// Runs `work` in the next group and returns its results once the group committed.
    /// - Throws: `OVERLOADED` when `queueLimit` calls already wait; what `work` threw; the
    ///   commit's failure.
    func submit<T: Sendable>(
        _ work: @escaping @Sendable (ClientConnection) throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let job = Job(work) { outcome in continuation.resume(with: outcome) }
            do {
                try enqueue(job)
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }

    /// Puts `job` in line, starting a drain when none runs.
    /// - Throws: `OVERLOADED` when the line is full.
    private func enqueue(_ job: Job) throws {
        let start = state.withLock { state -> Bool? in
            guard state.waiting.count < queueLimit else { return nil }
            state.waiting.append(job)
            guard !state.leading else { return false }
            state.leading = true
            return true
        }
        guard let start else {
            throw CollegeDBError(
                .overloaded,
                "\(subject) is busy and \(queueLimit) writes already wait for it; try again later"
            )
        }
        if start { BlockingWork.startLong { self.drain() } }
    }

    /// After a turn on a caller's thread: a thread of its own runs what queued meanwhile.
    private func handOver() {
        let more = state.withLock { state -> Bool in
            if state.waiting.isEmpty { state.leading = false }
            return !state.waiting.isEmpty
        }
        if more { BlockingWork.startLong { self.drain() } }
    }

    private func drain() {
        while true {
            let group = state.withLock { state -> [Job] in
                guard !state.waiting.isEmpty else {
                    state.leading = false
                    return []
                }
                let group = Array(state.waiting.prefix(maximumGroup))
                state.waiting.removeFirst(group.count)
                return group
            }
            guard !group.isEmpty else { return }
            commit(group)
        }
    }

    /// Runs `group` in one transaction and answers each call.
    private func commit(_ group: [Job]) {
        var outcomes = [Outcome?](repeating: nil, count: group.count)
        var toRun = Array(group.indices)
        while !toRun.isEmpty {
            var restart = false
            do {
                try writer.executeInternal("BEGIN IMMEDIATE")
                for index in toRun {
                    do {
                        try writer.executeInternal("SAVEPOINT collegedb_call")
                        try group[index].run(writer)
                        outcomes[index] = .succeeded
                        try writer.executeInternal("RELEASE collegedb_call")
                    } catch {
                        outcomes[index] = .failed(error)
                        guard writer.isInTransaction else {
                            // SQLite rolled back the whole group: run the others again.
                            toRun = toRun.filter { $0 != index }
                            for other in toRun { outcomes[other] = nil }
                            restart = true
                            break
                        }
                        try writer.executeInternal("ROLLBACK TO collegedb_call")
                        try writer.executeInternal("RELEASE collegedb_call")
                    }
                }
                if restart { continue }
                try writer.executeInternal("COMMIT")
                commits.add(1, ordering: .relaxed)
                committedCalls.add(toRun.count, ordering: .relaxed)
                toRun = []
            } catch {
                // BEGIN or COMMIT failed: nothing of this group committed.
                writer.resetAfterCall()
                for index in toRun { outcomes[index] = .failed(error) }
                toRun = []
            }
        }
        writer.resetAfterCall()
        for (job, outcome) in zip(group, outcomes) {
            switch outcome {
            case .succeeded?: job.answer(nil)
            case .failed(let error)?: job.answer(error)
            case nil: job.answer(CollegeDBError(.internalError, "a write of a group was neither run nor failed"))
            }
        }
    }
}
