import Foundation
import GRDB
import GRDBSQLite

/// One shard: a SQLite database in WAL mode, opened through a GRDB `DatabasePool` with a busy
/// timeout and foreign keys on. Every method blocks on SQLite: call it off any event loop.
public final class ShardDatabase: Sendable {
    public let name: String
    public let path: String
    public let metrics: ShardMetrics
    let pool: DatabasePool

    /// Opens (creating when missing) the database at `path`, and its parent directory; its
    /// query and error counts continue from `savedMetrics`.
    public init(name: String, path: String, savedMetrics: (queries: Int, errors: Int)? = nil) throws {
        self.name = name
        self.path = path
        metrics = ShardMetrics(queries: savedMetrics?.queries ?? 0, errors: savedMetrics?.errors ?? 0)
        do {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true
            )
            pool = try DatabasePool(path: path, configuration: Self.configuration())
        } catch {
            throw CollegeDBError(.shardUnavailable, "shard '\(name)' cannot be opened at \(path): \(error)")
        }
    }

    static func configuration() -> Configuration {
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(5)
        configuration.maximumReaderCount = 4
        return configuration
    }

    /// Runs one statement. A read-only statement runs on a reader; any other on the writer, as
    /// its own implicit transaction. `rowLimit` stops reading rows early (for `first`).
    public func execute(_ statement: SQLStatement, rowLimit: Int? = nil) throws -> QueryResult {
        try measured {
            let clock = ContinuousClock.now
            let readResult = try pool.unsafeRead { db -> QueryResult? in
                let compiled = try compile(statement.sql, in: db)
                guard compiled.isReadonly else { return nil }
                return try run(compiled, statement.bindings, in: db, rowLimit: rowLimit, since: clock)
            }
            if let readResult { return readResult }
            return try pool.writeWithoutTransaction { db in
                let compiled = try compile(statement.sql, in: db)
                return try run(compiled, statement.bindings, in: db, rowLimit: rowLimit, since: clock)
            }
        }
    }

    /// Runs `statements` in one write transaction: all commit together or none does.
    public func executeBatch(_ statements: [SQLStatement]) throws -> [QueryResult] {
        try measured {
            try pool.write { db in
                try statements.map { statement in
                    let clock = ContinuousClock.now
                    let compiled = try compile(statement.sql, in: db)
                    return try run(compiled, statement.bindings, in: db, rowLimit: nil, since: clock)
                }
            }
        }
    }

    /// Compiles `sql` without running it.
    public func describe(_ sql: String) throws -> StatementDescription {
        try measured {
            try pool.unsafeRead { db in
                let compiled = try compile(sql, in: db)
                return StatementDescription(
                    shard: name,
                    parameterCount: Int(sqlite3_bind_parameter_count(compiled.sqliteStatement)),
                    columns: compiled.columnNames,
                    readOnly: compiled.isReadonly
                )
            }
        }
    }

    /// Whether SQLite compiles `sql` as a statement that does not write.
    public func isReadOnly(_ sql: String) throws -> Bool {
        try describe(sql).readOnly
    }

    /// Runs every statement of `script` (split by SQLite's own parser, so comments, quoted `;`
    /// and trigger bodies are handled) in one transaction, and returns how many ran.
    public func executeScript(_ script: String) throws -> Int {
        try measured {
            try pool.write { db in
                var count = 0
                let statements = try db.allStatements(sql: script)
                while let statement = try statements.next() {
                    try statement.execute()
                    count += 1
                }
                return count
            }
        }
    }

    /// The database size in bytes: `page_count * page_size`.
    public func sizeInBytes() throws -> Int64 {
        try pool.unsafeRead { db in
            let pageCount = try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            let pageSize = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 0
            return pageCount * pageSize
        }
    }

    /// Closes every connection; later calls fail.
    public func close() throws {
        try pool.close()
    }

    /// Whether the database answers a trivial query.
    public func isHealthy() -> Bool {
        (try? pool.unsafeRead { db in try Int.fetchOne(db, sql: "SELECT 1") }) == 1
    }

    private func measured<T>(_ body: () throws -> T) throws -> T {
        do {
            return try metrics.measure(body)
        } catch {
            throw CollegeDBError.fromQuery(error, shard: name)
        }
    }

    private func compile(_ sql: String, in db: Database) throws -> Statement {
        do {
            return try db.makeStatement(sql: sql)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_MISUSE {
            throw CollegeDBError.invalidParams("sql: one call takes exactly one SQL statement")
        } catch let error as DatabaseError where error.message == "empty statement" {
            throw CollegeDBError.invalidParams("sql: no SQL statement given")
        }
    }

    private func run(
        _ statement: Statement,
        _ bindings: [SQLValue],
        in db: Database,
        rowLimit: Int?,
        since start: ContinuousClock.Instant
    ) throws -> QueryResult {
        let parameterCount = Int(sqlite3_bind_parameter_count(statement.sqliteStatement))
        guard parameterCount == bindings.count else {
            throw CollegeDBError.invalidParams(
                "bindings: the statement takes \(parameterCount) value(s), \(bindings.count) given"
            )
        }
        statement.setUncheckedArguments(StatementArguments(bindings.map(\.databaseValue)))
        let columnCount = statement.columnCount
        var rows: [[SQLValue]] = []
        let cursor = try Row.fetchCursor(statement)
        while rowLimit.map({ rows.count < $0 }) ?? true, let row = try cursor.next() {
            rows.append((0..<columnCount).map { SQLValue(row[$0] as DatabaseValue) })
        }
        let elapsed = ContinuousClock.now - start
        return QueryResult(
            shard: name,
            columns: statement.columnNames,
            rows: rows,
            changes: statement.isReadonly ? 0 : db.changesCount,
            lastRowID: db.lastInsertedRowID,
            durationMilliseconds: Double(elapsed.components.attoseconds) / 1e15
                + Double(elapsed.components.seconds) * 1000
        )
    }
}
