import CSQLiteHardening
import Foundation
import GRDBSQLite

/// One SQLite connection that runs statements written by clients, through the C API so that the
/// daemon owns every callback on it:
/// - the authorizer applies ``StatementPolicy`` while a client's statement compiles (and lets
///   the daemon's own `BEGIN`/`COMMIT` through);
/// - the progress handler stops a statement at its deadline, at the end of a short budget, or
///   when its caller went away;
/// - `SQLITE_DBCONFIG_DEFENSIVE`, no trusted schema, no extensions, no attached databases;
/// - after every call the connection is back in autocommit mode, so nothing a call did can stay
///   on it for the next caller.
///
/// Not thread-safe: one thread uses it at a time (its owner hands it out).
final class ClientConnection: @unchecked Sendable {
    /// What SQLite reported, with the connection's extended code and message.
    struct Failure: Error {
        let code: Int32
        let extendedCode: Int32
        let message: String
    }

    /// Why the progress handler stopped a statement.
    enum Interruption: Error {
        /// The call's time limit passed.
        case deadline(Duration)
        /// The short budget of a quick attempt passed; the statement left nothing behind.
        case budget
        /// The caller went away.
        case cancelled
    }

    /// The state SQLite's callbacks read; owned by the connection, passed to C unretained.
    private final class Watch {
        let policy: StatementPolicy
        var checksClientStatements = false
        var refusal: String?
        var deadline: ContinuousClock.Instant?
        var budgetEnd: ContinuousClock.Instant?
        var cancellation: CancellationFlag?
        var interruption: Interruption?
        var timeLimit: Duration = .zero

        init(policy: StatementPolicy) { self.policy = policy }
    }

    /// VM instructions between two looks at the clock (about 10 µs of work).
    private static let progressInterval: Int32 = 1000

    private let handle: OpaquePointer
    private let watch: Watch
    /// The most bytes of values one statement's rows may hold in memory.
    private let maximumResultBytes: Int
    /// The source of `collegedb_id()`, kept while the function is registered; nil when the
    /// engine gave none.
    private let identifiers: ClusterIdentifiers?

    /// Compiled client statements by SQL text, most recently used last; see `withStatement`.
    private var cachedStatements: [String: OpaquePointer] = [:]
    private var cacheOrder: [String] = []

    /// How many compiled statements a connection keeps.
    static let statementCacheCapacity = 64
    /// SQL longer than this is compiled for each call and not kept.
    static let longestCachedSQL = 4096

    /// Opens `path` (which must exist, in WAL mode) for client statements; a reader is
    /// `query_only`, so a write can never run on it.
    init(path: String, reader: Bool, settings: ShardSettings) throws {
        var opened: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE
        let status = sqlite3_open_v2(path, &opened, flags, nil)
        guard status == SQLITE_OK, let opened else {
            let message = opened.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(opened)
            throw Failure(code: status & 0xFF, extendedCode: status, message: message)
        }
        handle = opened
        watch = Watch(policy: settings.policy)
        maximumResultBytes = settings.maximumResultBytes
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, 5000)
        sqlite3_limit(handle, SQLITE_LIMIT_ATTACHED, 0)
        sqlite3_limit(handle, SQLITE_LIMIT_LENGTH, settings.maximumValueBytes)
        sqlite3_limit(handle, SQLITE_LIMIT_SQL_LENGTH, settings.maximumValueBytes)
        identifiers = settings.identifiers
        let context = Unmanaged.passUnretained(watch).toOpaque()
        sqlite3_set_authorizer(handle, ClientConnection.authorize, context)
        sqlite3_progress_handler(handle, Self.progressInterval, ClientConnection.progress, context)
        do {
            try check(collegedb_harden_connection(handle))
            try executeInternal("PRAGMA foreign_keys = ON")
            try executeInternal("PRAGMA synchronous = \(settings.durability.synchronousPragma)")
            if reader { try executeInternal("PRAGMA query_only = ON") }
            if let identifiers {
                // The connection keeps `identifiers`, so the unretained pointer lives as long.
                try check(
                    sqlite3_create_function_v2(
                        handle,
                        "collegedb_id",
                        0,
                        SQLITE_UTF8,
                        Unmanaged.passUnretained(identifiers).toOpaque(),
                        ClientConnection.nextIdentifier,
                        nil,
                        nil,
                        nil
                    )
                )
            }
        } catch {
            sqlite3_close_v2(handle)
            throw error
        }
    }

    deinit {
        for statement in cachedStatements.values { sqlite3_finalize(statement) }
        sqlite3_close_v2(handle)
    }

    // MARK: Client statements

    /// Lends `body` the compiled client statement of `sql`: from the connection's cache of
    /// recently used statements (at most ``statementCacheCapacity``, short SQL only), else
    /// compiled under the policy now. The statement is reset and its bindings cleared after.
    func withStatement<T>(_ sql: String, _ body: (OpaquePointer) throws -> T) throws -> T {
        if let cached = cachedStatements[sql] {
            if cacheOrder.last != sql, let index = cacheOrder.lastIndex(of: sql) {
                cacheOrder.remove(at: index)
                cacheOrder.append(sql)
            }
            defer {
                sqlite3_reset(cached)
                sqlite3_clear_bindings(cached)
            }
            return try body(cached)
        }
        let statement = try prepareClientStatement(sql)
        guard sql.utf8.count <= Self.longestCachedSQL else {
            defer { sqlite3_finalize(statement) }
            return try body(statement)
        }
        if cachedStatements.count >= Self.statementCacheCapacity {
            let oldest = cacheOrder.removeFirst()
            if let evicted = cachedStatements.removeValue(forKey: oldest) { sqlite3_finalize(evicted) }
        }
        cachedStatements[sql] = statement
        cacheOrder.append(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        return try body(statement)
    }

    /// Compiles one client statement under the policy. The caller finalizes it.
    /// - Throws: `STATEMENT_REFUSED`, `INVALID_PARAMS` (no statement, or more than one), or a
    ///   ``Failure``.
    func prepareClientStatement(_ sql: String) throws -> OpaquePointer {
        if let refusal = StatementPolicy.refusal(leadingKeyword: StatementPolicy.leadingKeyword(of: sql)) {
            throw CollegeDBError(.statementRefused, refusal)
        }
        var statement: OpaquePointer?
        var remainder = ""
        let status = sql.withCString { text -> Int32 in
            var tail: UnsafePointer<CChar>?
            let status = compileClientText(text, &statement, &tail)
            if let tail { remainder = String(cString: tail) }
            return status
        }
        try checkCompiled(status)
        guard let statement else { throw CollegeDBError.invalidParams("sql: no SQL statement given") }
        guard StatementPolicy.isBlank(remainder) else {
            sqlite3_finalize(statement)
            throw CollegeDBError.invalidParams("sql: one call takes exactly one SQL statement")
        }
        return statement
    }

    /// Whether SQLite compiled `statement` as one that does not write.
    func isReadOnly(_ statement: OpaquePointer) -> Bool { sqlite3_stmt_readonly(statement) != 0 }

    /// Binds `bindings` to `statement` and runs it, reading at most `rowLimit` rows, stopping at
    /// `deadline` (or, for a quick attempt, at `budgetEnd` with ``Interruption/budget``).
    func run(
        _ statement: OpaquePointer,
        bindings: [SQLValue],
        rowLimit: Int?,
        shard: String,
        timing: StatementTiming
    ) throws -> QueryResult {
        let started = ContinuousClock.now
        try bind(bindings, to: statement)
        // The connection is pooled: what an earlier caller's statement left in SQLite's
        // per-connection counts (its changes, its last rowid) must not show in this answer.
        sqlite3_set_last_insert_rowid(handle, 0)
        let changesBefore = sqlite3_total_changes64(handle)
        let columnCount = Int(sqlite3_column_count(statement))
        let columns = (0..<columnCount).map { String(cString: sqlite3_column_name(statement, Int32($0))) }
        var rows: [[SQLValue]] = []
        var resultBytes = 0
        try watching(timing) {
            while rowLimit.map({ rows.count < $0 }) ?? true {
                let status = sqlite3_step(statement)
                if status == SQLITE_DONE { break }
                guard status == SQLITE_ROW else {
                    try check(status)
                    break
                }
                let row = (0..<columnCount).map { column(Int32($0), of: statement) }
                resultBytes += row.reduce(8) { $0 + $1.approximateBytes }
                guard resultBytes <= maximumResultBytes else {
                    throw CollegeDBError(
                        .resultTooLarge,
                        "the result holds more than \(maximumResultBytes) bytes; select fewer rows (LIMIT, a narrower "
                            + "WHERE) or fewer columns"
                    )
                }
                rows.append(row)
            }
        }
        let readOnly = isReadOnly(statement)
        let elapsed = ContinuousClock.now - started
        return QueryResult(
            shard: shard,
            columns: columns,
            rows: rows,
            changes: readOnly || sqlite3_total_changes64(handle) == changesBefore ? 0 : Int(sqlite3_changes64(handle)),
            lastRowID: sqlite3_last_insert_rowid(handle),
            durationMilliseconds: elapsed.fractionalMilliseconds
        )
    }

    /// Runs every statement of a client's `script` (split by SQLite's own parser, so comments,
    /// quoted `;` and trigger bodies are handled), each under the policy; returns how many ran.
    func runScript(_ script: String, timing: StatementTiming) throws -> Int {
        try script.withCString { start -> Int in
            var next: UnsafePointer<CChar>? = start
            var count = 0
            while let text = next, text.pointee != 0 {
                var statement: OpaquePointer?
                var tail: UnsafePointer<CChar>?
                try checkCompiled(compileClientText(text, &statement, &tail))
                next = tail
                guard let statement else { continue }
                defer { sqlite3_finalize(statement) }
                if let refusal = StatementPolicy.refusal(
                    leadingKeyword: StatementPolicy.leadingKeyword(of: String(cString: sqlite3_sql(statement)))
                ) {
                    throw CollegeDBError(.statementRefused, refusal)
                }
                try watching(timing) {
                    var status = sqlite3_step(statement)
                    while status == SQLITE_ROW { status = sqlite3_step(statement) }
                    try check(status)
                }
                count += 1
            }
            return count
        }
    }

    /// Runs `script` as recorded schema change `name`, with `runScript`'s policy, unless the
    /// shard's ledger (``ShardSchemaLedger``) has it, and notes it there, in the transaction
    /// open on the connection. Returns whether it ran.
    func runSchemaChange(_ script: String, name: String, timing: StatementTiming) throws -> Bool {
        try executeInternal(ShardSchemaLedger.createTable)
        let literal = ShardSchemaLedger.literal(name)
        guard try scalarText("SELECT count(*) FROM \(ShardSchemaLedger.table) WHERE name = \(literal)") == "0" else {
            return false
        }
        _ = try runScript(script, timing: timing)
        try executeInternal(
            "INSERT INTO \(ShardSchemaLedger.table) (name, applied_at) VALUES (\(literal), \(MappingStore.nowMilliseconds()))"
        )
        return true
    }

    // MARK: The daemon's own statements

    /// Runs SQL the daemon wrote (transaction control, settings), outside the policy.
    func executeInternal(_ sql: String) throws {
        try check(sqlite3_exec(handle, sql, nil, nil, nil))
    }

    /// Whether a transaction is open (SQLite may have rolled one back by itself).
    var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// Rolls back whatever a failed call left open, so the next caller starts clean.
    func resetAfterCall() {
        if sqlite3_get_autocommit(handle) == 0 { _ = sqlite3_exec(handle, "ROLLBACK", nil, nil, nil) }
    }

    /// The connection's settings and leftovers that a client could try to change, for checks;
    /// call it while nothing runs on the connection.
    func stateReport() throws -> [String: String] {
        var report: [String: String] = ["autocommit": sqlite3_get_autocommit(handle) != 0 ? "1" : "0"]
        for pragma in [
            "foreign_keys", "synchronous", "query_only", "writable_schema", "trusted_schema",
            "recursive_triggers", "defer_foreign_keys", "ignore_check_constraints", "cache_size", "temp_store",
        ] {
            report[pragma] = try scalarText("PRAGMA \(pragma)")
        }
        report["attached"] = try scalarText("SELECT count(*) FROM pragma_database_list WHERE name <> 'main'")
        report["temporaryObjects"] = try scalarText("SELECT count(*) FROM temp.sqlite_master")
        return report
    }

    /// Checks that the database still answers a trivial query.
    func checkReadable() throws {
        _ = try scalarText("SELECT count(*) FROM sqlite_master")
    }

    private func scalarText(_ sql: String) throws -> String {
        var statement: OpaquePointer?
        try check(sqlite3_prepare_v2(handle, sql, -1, &statement, nil))
        defer { sqlite3_finalize(statement) }
        guard sqlite3_step(statement) == SQLITE_ROW, let text = sqlite3_column_text(statement, 0) else { return "" }
        return String(cString: text)
    }

    // MARK: Internals

    private func compileClientText(
        _ text: UnsafePointer<CChar>,
        _ statement: inout OpaquePointer?,
        _ tail: inout UnsafePointer<CChar>?
    ) -> Int32 {
        watch.checksClientStatements = true
        watch.refusal = nil
        defer { watch.checksClientStatements = false }
        return sqlite3_prepare_v3(handle, text, -1, 0, &statement, &tail)
    }

    private func checkCompiled(_ status: Int32) throws {
        if status & 0xFF == SQLITE_AUTH || (status != SQLITE_OK && watch.refusal != nil) {
            throw CollegeDBError(.statementRefused, watch.refusal ?? String(cString: sqlite3_errmsg(handle)))
        }
        try check(status)
    }

    /// Runs `body` with the progress handler watching `timing`; translates an interruption.
    private func watching(_ timing: StatementTiming, _ body: () throws -> Void) throws {
        watch.checksClientStatements = true
        watch.deadline = timing.deadline
        watch.timeLimit = timing.timeLimit
        watch.budgetEnd = timing.budgetEnd
        watch.cancellation = timing.cancellation
        watch.interruption = nil
        defer {
            watch.checksClientStatements = false
            watch.deadline = nil
            watch.budgetEnd = nil
            watch.cancellation = nil
        }
        do {
            try body()
        } catch let failure as Failure where failure.code == SQLITE_INTERRUPT {
            throw watch.interruption ?? failure
        }
    }

    private func bind(_ bindings: [SQLValue], to statement: OpaquePointer) throws {
        let parameterCount = Int(sqlite3_bind_parameter_count(statement))
        guard parameterCount == bindings.count else {
            throw CollegeDBError.invalidParams(
                "bindings: the statement takes \(parameterCount) value(s), \(bindings.count) given"
            )
        }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (offset, value) in bindings.enumerated() {
            let index = Int32(offset + 1)
            let status: Int32
            switch value {
            case .null: status = sqlite3_bind_null(statement, index)
            case .integer(let integer): status = sqlite3_bind_int64(statement, index, integer)
            case .real(let real): status = sqlite3_bind_double(statement, index, real)
            case .boolean(let flag): status = sqlite3_bind_int64(statement, index, flag ? 1 : 0)
            case .text(let text), .json(let text):
                var text = text
                status = text.withUTF8 { bytes in
                    sqlite3_bind_text64(
                        statement,
                        index,
                        UnsafeRawPointer(bytes.baseAddress ?? UnsafePointer(bitPattern: 1)!)
                            .assumingMemoryBound(to: CChar.self),
                        sqlite3_uint64(bytes.count),
                        transient,
                        UInt8(SQLITE_UTF8)
                    )
                }
            case .blob(let data):
                status = data.withUnsafeBytes { bytes in
                    bytes.isEmpty
                        ? sqlite3_bind_zeroblob(statement, index, 0)
                        : sqlite3_bind_blob64(
                            statement,
                            index,
                            bytes.baseAddress,
                            sqlite3_uint64(bytes.count),
                            transient
                        )
                }
            }
            try check(status)
        }
    }

    private func column(_ index: Int32, of statement: OpaquePointer) -> SQLValue {
        switch sqlite3_column_type(statement, index) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(statement, index))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(statement, index))
        case SQLITE_TEXT:
            guard let text = sqlite3_column_text(statement, index) else { return .text("") }
            let count = Int(sqlite3_column_bytes(statement, index))
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            guard let bytes = sqlite3_column_blob(statement, index) else { return .blob(Data()) }
            let count = Int(sqlite3_column_bytes(statement, index))
            return .blob(Data(bytes: bytes, count: count))
        default: return .null
        }
    }

    private func check(_ status: Int32) throws {
        guard status != SQLITE_OK, status != SQLITE_DONE, status != SQLITE_ROW else { return }
        throw Failure(
            code: status & 0xFF,
            extendedCode: sqlite3_extended_errcode(handle),
            message: String(cString: sqlite3_errmsg(handle))
        )
    }

    private static let authorize:
        @convention(c) (
            UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?,
            UnsafePointer<CChar>?
        ) -> Int32 = { context, action, first, second, _, _ in
            let watch = Unmanaged<Watch>.fromOpaque(context!).takeUnretainedValue()
            guard watch.checksClientStatements else { return SQLITE_OK }
            guard
                let refusal = watch.policy.refusal(
                    action: action,
                    first: first.map { String(cString: $0) },
                    second: second.map { String(cString: $0) }
                )
            else { return SQLITE_OK }
            if watch.refusal == nil { watch.refusal = refusal }
            return SQLITE_DENY
        }

    /// `collegedb_id()`: the next id of the connection's ``ClusterIdentifiers``, or the
    /// statement fails with the reason.
    private static let nextIdentifier:
        @convention(c) (OpaquePointer?, Int32, UnsafeMutablePointer<OpaquePointer?>?) -> Void = { context, _, _ in
            guard let context, let source = sqlite3_user_data(context) else { return }
            do {
                sqlite3_result_int64(
                    context,
                    try Unmanaged<ClusterIdentifiers>.fromOpaque(source).takeUnretainedValue().next()
                )
            } catch {
                sqlite3_result_error(context, "collegedb_id(): \(error)", -1)
            }
        }

    private static let progress: @convention(c) (UnsafeMutableRawPointer?) -> Int32 = { context in
        let watch = Unmanaged<Watch>.fromOpaque(context!).takeUnretainedValue()
        guard let deadline = watch.deadline else { return 0 }
        if watch.cancellation?.isCancelled == true {
            watch.interruption = .cancelled
            return 1
        }
        let now = ContinuousClock.now
        if now >= deadline {
            watch.interruption = .deadline(watch.timeLimit)
            return 1
        }
        if let budgetEnd = watch.budgetEnd, now >= budgetEnd {
            watch.interruption = .budget
            return 1
        }
        return 0
    }
}

/// When a statement must stop: its deadline (from its time limit, kept for the message), the
/// end of a quick attempt's budget, after which it gives up to run again off the quick lane,
/// and the caller's cancellation.
struct StatementTiming {
    var deadline: ContinuousClock.Instant
    var timeLimit: Duration
    var budgetEnd: ContinuousClock.Instant?
    var cancellation: CancellationFlag?
}
