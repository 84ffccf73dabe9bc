import PostgresNIO
import Synchronization

extension PostgresClient {
    /// Leases a pooled connection for `body`, or throws ``PostgresLeaseTimeout`` when none is
    /// had within `timeout`: postgres-nio's pool would otherwise keep a caller waiting while a
    /// server that is down stays down (until its circuit breaker opens). `onLeased` runs once
    /// the connection is had, before `body`; the timeout no longer applies after it. A connection
    /// already closed when leased is given back and another leased.
    func withConnection<T: Sendable>(
        leasedWithin timeout: Duration,
        onLeased: @escaping @Sendable () -> Void = {},
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let leased = PostgresLeaseFlag()
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                while true {
                    do {
                        return try await self.withConnection { connection in
                            // The pool can hand over a connection whose server ended it before
                            // the pool heard: nothing was sent on it, so lease another.
                            guard !connection.isClosed else { throw PostgresClosedAtLease() }
                            leased.set()
                            onLeased()
                            return try await body(connection)
                        }
                    } catch is PostgresClosedAtLease {
                        await Task.yield()
                        try Task.checkCancellation()
                    }
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                if leased.isSet { return nil }
                throw PostgresLeaseTimeout()
            }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                if let value = next { return value }
            }
            throw PostgresLeaseTimeout()
        }
    }
}

/// No pooled connection could be had within the connect timeout.
struct PostgresLeaseTimeout: Error {}

/// The pool handed over a connection already closed.
private struct PostgresClosedAtLease: Error {}

/// Set once a call has its connection.
final class PostgresLeaseFlag: Sendable {
    private let value = Atomic(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}
