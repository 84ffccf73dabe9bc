import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The engine's one way to send a query on a PostgreSQL connection: only while it is open.
///
/// postgres-nio (1.33) never answers a query written to a connection whose channel has closed
/// and dropped its handlers (vapor/postgres-nio#487, whose fix was reverted in #501): after the
/// server ended a session (`pg_terminate_backend`, a restart), the next statement the engine
/// sent on it (a `ROLLBACK`, a `COMMIT`, the session reset) waited forever, and so did the
/// client's call. Here the check and the write happen in one turn of the connection's event
/// loop, where the channel closes too, so it cannot close between them; a closed connection
/// fails the query with ``PostgresConnectionClosed`` at once.
extension PostgresConnection {
    /// Runs `query`, handing each row to `onRow` (on the connection's event loop); returns the
    /// statement's command tag and row count.
    /// - Throws: ``PostgresConnectionClosed`` when the connection has closed, or what the
    ///   server or `onRow` threw.
    package func queryWhileOpen(
        _ query: PostgresQuery,
        logger: Logger,
        onRow: @escaping @Sendable (PostgresRow) throws -> Void
    ) async throws -> PostgresQueryMetadata {
        try await eventLoop.flatSubmit { self.queryOnLoop(query, logger: logger, onRow: onRow) }.get()
    }

    /// ``queryWhileOpen(_:logger:onRow:)`` for a caller already on the connection's event loop,
    /// which chains its next step there: no thread is woken between round trips.
    package func queryOnLoop(
        _ query: PostgresQuery,
        logger: Logger,
        onRow: @escaping @Sendable (PostgresRow) throws -> Void = { _ in }
    ) -> EventLoopFuture<PostgresQueryMetadata> {
        eventLoop.preconditionInEventLoop()
        guard !isClosed else { return eventLoop.makeFailedFuture(PostgresConnectionClosed()) }
        return self.query(query, logger: logger, onRow)
    }

    /// Runs `query` and returns all of its rows.
    /// - Throws: ``PostgresConnectionClosed`` when the connection has closed, or what the
    ///   server threw.
    @discardableResult
    package func queryWhileOpen(_ query: PostgresQuery, logger: Logger) async throws -> PostgresCollectedRows {
        let rows = Mutex<[PostgresRow]>([])
        _ = try await queryWhileOpen(query, logger: logger) { row in rows.withLock { $0.append(row) } }
        return PostgresCollectedRows(rows: rows.withLock { $0 })
    }
}

/// The rows of a query, all read.
package struct PostgresCollectedRows: Sendable {
    package let rows: [PostgresRow]

    /// Whether the query returned no row.
    package var isEmpty: Bool { rows.isEmpty }

    /// The first row's only column, as `Column`, or nil when there is no row; the other rows
    /// are not decoded.
    package func first<Column: PostgresDecodable>(_: Column.Type) throws -> Column? {
        try rows.first?.decode(Column.self)
    }

    /// The first row's columns, as `Columns`, or nil when there is no row.
    package func first<each Column: PostgresDecodable>(_: (repeat each Column).Type) throws -> (repeat each Column)? {
        try rows.first?.decode((repeat each Column).self)
    }

    /// Each row's only column, as `Column`.
    package func decode<Column: PostgresDecodable>(_: Column.Type) throws -> [Column] {
        try rows.map { try $0.decode(Column.self) }
    }

    /// Each row's columns, as `Columns`.
    package func decode<each Column: PostgresDecodable>(_: (repeat each Column).Type) throws -> [(repeat each Column)] {
        try rows.map { try $0.decode((repeat each Column).self) }
    }
}

/// A query was not sent: its connection had closed (the server ended the session, or the
/// connection failed).
package struct PostgresConnectionClosed: Error, CustomStringConvertible {
    package var description: String { "the connection to the server has closed" }
}
