import Synchronization

/// Runs the engine's long work (rebalancing, adoption, schema changes; a backup runs in its
/// caller) in the background: at most one job per kind at a time, each told to stop between its steps rather than cut short, so that what
/// it persisted is always whole. Jobs persist their own progress and resume from it.
package final class JobRunner: Sendable {
    /// What a running job checks between its steps.
    package final class Control: Sendable {
        private let requested = Mutex<RebalanceState?>(nil)
        /// Whether the job runs once more when it ends (``JobRunner/startOrRepeat(kind:id:_:)``).
        fileprivate let passRequested = Mutex(false)

        /// The state the job should stop in, once asked to stop.
        package var stopRequest: RebalanceState? { requested.withLock { $0 } }

        func requestStop(_ state: RebalanceState) {
            requested.withLock { $0 = $0 ?? state }
        }
    }

    private struct Running {
        var id: Int64
        var control: Control
        var task: Task<Void, Never>
    }

    private let running = Mutex<[String: Running]>([:])

    package init() {}

    /// Starts `body` as the job `id` of `kind`; returns false when a job of that kind runs.
    package func start(kind: String, id: Int64, _ body: @escaping @Sendable (Control) async -> Void) -> Bool {
        running.withLock { running in
            guard running[kind] == nil else { return false }
            running[kind] = launch(kind: kind, id: id, body)
            return true
        }
    }

    /// Starts `body` as the job `id` of `kind`, or, when a job of that kind runs, has it run
    /// its body once more after it ends (unless it was asked to stop): work that arrives while a
    /// job finishes is never left for nobody.
    package func startOrRepeat(kind: String, id: Int64, _ body: @escaping @Sendable (Control) async -> Void) {
        running.withLock { running in
            if let job = running[kind] {
                job.control.passRequested.withLock { $0 = true }
            } else {
                running[kind] = launch(kind: kind, id: id, body)
            }
        }
    }

    /// Runs `body` until it ends with no further pass asked for; call it holding `running`.
    private func launch(kind: String, id: Int64, _ body: @escaping @Sendable (Control) async -> Void) -> Running {
        let control = Control()
        let task = Task {
            var again = true
            while again {
                await body(control)
                // Decided under the same lock as the requests, so that none is lost.
                again = self.running.withLock { running in
                    let requested = control.passRequested.withLock { requested in
                        defer { requested = false }
                        return requested
                    }
                    if requested, control.stopRequest == nil { return true }
                    if running[kind]?.id == id { running[kind] = nil }
                    return false
                }
            }
        }
        return Running(id: id, control: control, task: task)
    }

    /// The id of the job of `kind` that runs now.
    package func runningJob(kind: String) -> Int64? {
        running.withLock { $0[kind]?.id }
    }

    /// Asks job `id` of `kind` to stop in `state` after its current step, and waits until it
    /// has; returns false when it was not running.
    package func stop(kind: String, id: Int64, in state: RebalanceState) async -> Bool {
        let job = running.withLock { running -> Running? in
            guard let job = running[kind], job.id == id else { return nil }
            return job
        }
        guard let job else { return false }
        job.control.requestStop(state)
        await job.task.value
        return true
    }

    /// Asks every job to stop in `state` and waits for them all.
    package func stopAll(in state: RebalanceState) async {
        let jobs = running.withLock { Array($0.values) }
        for job in jobs { job.control.requestStop(state) }
        for job in jobs { await job.task.value }
    }
}
