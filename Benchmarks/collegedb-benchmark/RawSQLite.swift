import GRDBSQLite

/// The limit for the engine: one libsqlite3 connection per benchmark thread, with its statement
/// compiled once, on the same files and in the same mode as the shards.
final class RawSQLite: @unchecked Sendable {
    private var handle: OpaquePointer?
    private var statement: OpaquePointer?

    init(path: String, sql: String, synchronous: String = "NORMAL") throws {
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK else {
            throw BenchmarkFailure("cannot open \(path)")
        }
        sqlite3_busy_timeout(handle, 5000)
        sqlite3_exec(handle, "PRAGMA synchronous = \(synchronous)", nil, nil, nil)
        guard sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil) == SQLITE_OK
        else {
            throw BenchmarkFailure("cannot compile \(sql): \(String(cString: sqlite3_errmsg(handle)))")
        }
    }

    deinit {
        sqlite3_finalize(statement)
        sqlite3_close_v2(handle)
    }

    /// Binds `value` to the statement's one parameter, steps it to the end, and returns how
    /// many rows it read.
    @discardableResult
    func run(_ value: Int64) throws -> Int {
        defer { sqlite3_reset(statement) }
        sqlite3_bind_int64(statement, 1, value)
        var rows = 0
        while true {
            let status = sqlite3_step(statement)
            if status == SQLITE_DONE { return rows }
            guard status == SQLITE_ROW else { throw BenchmarkFailure(String(cString: sqlite3_errmsg(handle))) }
            rows += 1
        }
    }
}
