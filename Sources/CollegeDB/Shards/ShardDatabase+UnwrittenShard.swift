import Foundation
import GRDBSQLite

/// Reads of a shard never written, answered without its file: what an empty database answers.
extension ShardDatabase {
    /// Whether the shard's file is missing or empty: nothing was ever written to it.
    private var isUnwritten: Bool {
        var status = stat()
        return stat(path, &status) != 0 ? errno == ENOENT : status.st_size == 0
    }

    /// For a read on a closed shard never written: its answer from an empty in-memory database
    /// under the shard's policy, which is what its file would answer, without making the file
    /// or opening the shard. Nil otherwise (the shard is open or holds something, or the
    /// statement writes): then the shard runs it. Blocks briefly on SQLite.
    func answerIfUnwritten(
        _ statement: SQLStatement,
        rowLimit: Int?,
        limits: QueryLimits
    ) throws
        -> QueryResult?
    {
        // A shard opened before whose file is gone is not empty: its opening says what happened.
        guard !isOpen, !everOpened.load(ordering: .relaxed), isUnwritten else { return nil }
        let empty = try ClientConnection(path: ":memory:", reader: true, settings: settings)
        return try empty.withStatement(statement.sql) { compiled in
            guard empty.isReadOnly(compiled) else { return nil }
            return try empty.run(
                compiled,
                bindings: statement.bindings,
                rowLimit: rowLimit,
                shard: name,
                timing: settings.timing(limits)
            )
        }
    }

    /// ``answerIfUnwritten(_:rowLimit:limits:)`` from a caller that may not block, counted as a
    /// statement of the shard when it answers; an open shard answers nil at once.
    func answerIfUnwritten(
        _ statement: SQLStatement,
        rowLimit: Int?,
        limits: QueryLimits
    ) async throws
        -> QueryResult?
    {
        guard !isOpen else { return nil }
        return try await metrics.measureAsyncAttempt {
            try await translatingFailures {
                try await BlockingWork.run { try self.answerIfUnwritten(statement, rowLimit: rowLimit, limits: limits) }
            }
        }
    }
}
