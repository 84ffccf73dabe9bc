import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Runs the engine's PostgreSQL clients (each PostgreSQL shard's pool, and the shared
/// catalog's) as one service: run it in the application's `ServiceGroup` before the services
/// that use the engine, so that it stops after them, once the engine has closed.
///
/// A client is handed to it when its shard or catalog opens, runs until that shard is removed
/// or the engine closes it (``PostgresClientRun/stop()``), and every client still running
/// stops when the service's graceful shutdown begins or its task is cancelled. A client handed
/// over before ``run()`` begins waits for it: its calls wait for a connection until then.
///
/// An engine opened without one (``CollegeDBConfiguration/postgresClients`` nil) runs its own
/// until ``CollegeDB/close()``.
public final class PostgresClients: Service, Sendable {
    private let waiting = AsyncStream<PostgresClientRun>.makeStream()
    /// Whether ``run()`` was called: the clients handed over have one runner.
    private let hasRun = Atomic(false)

    public init() {}

    /// Hands `client` over to be run; returns the handle that stops it.
    /// - Throws: `SHARD_UNAVAILABLE` once the service has stopped.
    package func start(_ client: PostgresClient) throws -> PostgresClientRun {
        let run = PostgresClientRun(client)
        guard case .enqueued = waiting.continuation.yield(run) else {
            throw CollegeDBError(.shardUnavailable, "the PostgreSQL clients have stopped: the daemon is stopping")
        }
        return run
    }

    /// Runs each client handed over, until graceful shutdown or cancellation; then stops them
    /// all and returns once they have closed their connections.
    /// - Throws: `INTERNAL_ERROR` when called a second time (the service runs once).
    public func run() async throws {
        guard !hasRun.exchange(true, ordering: .relaxed) else {
            throw CollegeDBError(.internalError, "the PostgreSQL clients' service runs once; run() was called again")
        }
        await withDiscardingTaskGroup { group in
            await withGracefulShutdownHandler {
                // Ends once no client can be handed over any more and every one handed over
                // has started, or at cancellation.
                for await run in waiting.stream {
                    group.addTask { await run.run() }
                }
            } onGracefulShutdown: {
                self.waiting.continuation.finish()
            }
            waiting.continuation.finish()
            group.cancelAll()
        }
    }
}

/// One client run by ``PostgresClients``, from the hand-over until ``stop()``.
package final class PostgresClientRun: Sendable {
    private enum Phase {
        case waiting, running, stopped
    }

    private let client: PostgresClient
    private let phase = Mutex(Phase.waiting)
    private let stopRequest = AsyncStream<Never>.makeStream()
    private let ended = AsyncStream<Never>.makeStream()

    init(_ client: PostgresClient) {
        self.client = client
    }

    /// Runs the client until ``stop()`` or cancellation; a client stopped before it ran never
    /// runs.
    fileprivate func run() async {
        let starts = phase.withLock { phase in
            guard case .waiting = phase else { return false }
            phase = .running
            return true
        }
        guard starts else { return }
        await withDiscardingTaskGroup { group in
            group.addTask { await self.client.run() }
            // Until stop() finishes the stream, or the task is cancelled.
            for await _ in stopRequest.stream {}
            group.cancelAll()
        }
        phase.withLock { $0 = .stopped }
        ended.continuation.finish()
    }

    /// Whether the client was stopped (``stop()``, ``requestStop()``, or the runner's end): it
    /// serves no more calls.
    package var hasStopped: Bool {
        phase.withLock { phase in
            if case .stopped = phase { return true }
            return false
        }
    }

    /// Stops the client, and waits until it has closed its connections when it was running.
    package func stop() async {
        if requestStop() {
            for await _ in ended.stream {}
        }
    }

    /// Asks the client to stop, without waiting; returns whether it was running (the first
    /// call only).
    @discardableResult
    package func requestStop() -> Bool {
        let wasRunning = phase.withLock { phase in
            defer { phase = .stopped }
            if case .running = phase { return true }
            return false
        }
        stopRequest.continuation.finish()
        return wasRunning
    }
}
