import PostgresNIO
import Synchronization

extension PostgresClient {
    /// Leases a pooled connection for `body`, or throws ``PostgresLeaseTimeout`` when none is
    /// had within `timeout`: postgres-nio's pool would otherwise keep a caller waiting while a
    /// server that is down stays down (until its circuit breaker opens). `onLeased` runs once
    /// the connection is had, before `body`; the timeout no longer applies after it.
    func withConnection<T: Sendable>(
        leasedWithin timeout: Duration,
        onLeased: @escaping @Sendable () -> Void = {},
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let leased = PostgresLeaseFlag()
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await self.withConnection { connection in
                    leased.set()
                    onLeased()
                    return try await body(connection)
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

/// Set once a call has its connection.
final class PostgresLeaseFlag: Sendable {
    private let value = Atomic(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}
