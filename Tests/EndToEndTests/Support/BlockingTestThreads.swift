import Foundation
import Testing

/// Threads of their own for the tests that block while they wait (on a daemon's socket, a
/// child process, a sleep), so that they never hold the concurrency runtime's threads.
///
/// The runtime has as many threads as cores, two on CI. Two blocked tests used to hold both,
/// and a test that runs the engine in-process (its tasks, postgres-nio's pools) then waited
/// for a thread as long as they did: a 30 s connect timeout expired on a server that was up.
/// These threads are as many as the cores too, so that as many daemon tests run at once as
/// before.
final class BlockingTestThreads: TaskExecutor, @unchecked Sendable {
    /// The threads every blocking test shares.
    static let shared = BlockingTestThreads(count: ProcessInfo.processInfo.activeProcessorCount)

    private let jobsChanged = NSCondition()
    /// Guarded by `jobsChanged`.
    private var jobs: [UnownedJob] = []

    private init(count: Int) {
        for _ in 0..<max(count, 1) {
            Thread { [self] in runJobs() }.start()
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        jobsChanged.lock()
        jobs.append(job)
        jobsChanged.signal()
        jobsChanged.unlock()
    }

    /// Runs jobs in the order they came, for as long as the process runs.
    private func runJobs() {
        while true {
            jobsChanged.lock()
            while jobs.isEmpty { jobsChanged.wait() }
            let job = jobs.removeFirst()
            jobsChanged.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// Runs each test of a suite on ``BlockingTestThreads``: for suites whose tests block.
///
/// The tests' child tasks (`async let`, task groups) run there too; a suite that runs the
/// engine's tasks in process (a `ServiceGroup`, postgres-nio's pools) should not have the trait,
/// or those tasks would wait behind the blocked tests. Unstructured tasks are not affected.
struct RunsOnBlockingThreads: SuiteTrait, TestTrait, TestScoping {
    var isRecursive: Bool { true }

    func provideScope(
        for test: Test,
        testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        // Once per test case; the suite itself needs nothing.
        guard testCase != nil else { return try await function() }
        try await withTaskExecutorPreference(BlockingTestThreads.shared) { try await function() }
    }
}

extension Trait where Self == RunsOnBlockingThreads {
    /// The suite's tests block while they wait: they run on threads of their own
    /// (``BlockingTestThreads``), not the concurrency runtime's.
    static var blocksWhileWaiting: Self { Self() }
}
