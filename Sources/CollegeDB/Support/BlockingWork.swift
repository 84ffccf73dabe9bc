import Dispatch

/// Runs blocking SQLite work on Dispatch's threads so that it never occupies an event loop or
/// the cooperative pool; the caller suspends until it is done.
enum BlockingWork {
    private static let queue = DispatchQueue(label: "collegedb.sqlite", attributes: .concurrent)

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result(catching: body)) }
        }
    }
}
