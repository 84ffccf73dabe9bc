import Dispatch
import Synchronization

/// Runs async work to completion for a caller on a blocking-work thread (never an event loop
/// or a cooperative thread: that thread waits, and the work runs on the cooperative pool).
/// The shared PostgreSQL catalog answers the catalog's blocking calls through it.
enum AsyncBridge {
    static func wait<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let outcome = Mutex<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let result: Result<T, any Error>
            do { result = .success(try await body()) } catch { result = .failure(error) }
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return try outcome.withLock { $0! }.get()
    }
}
