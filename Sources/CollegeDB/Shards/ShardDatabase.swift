import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// One shard: a SQLite database in WAL mode.
///
/// Clients' statements run on `ClientConnection`s the shard owns (a writer and a few readers)
/// under the ``StatementPolicy`` and the statement time limit; the daemon's own work (moving
/// rows, sizes, health checks) runs on a GRDB `DatabasePool` of its own. Admission to the
/// readers and the writer is bounded (`AdmissionGate`): a quick lane whose statements give
/// up after a short budget, a slow lane for the statements that ran past it, and the writer;
/// each with a bounded line of waiters, and `OVERLOADED` beyond it.
///
/// A shard is opened on its first use and closed again when more than
/// ``OpenShardSlots/maximum`` shards are open and it is the least recently used one that
/// nothing uses: closed, it holds no descriptor, connection or cache. Every use holds the shard
/// open for its length (``withOpenFiles(_:)``). A shard whose file cannot be opened reports
/// itself unavailable (or read-only) and refuses calls with `SHARD_UNAVAILABLE`, trying the
/// file again at its next use, so that the others serve; one whose file turns out corrupt or
/// unreadable while running is marked failed until a restart.
public final class ShardDatabase: ShardBackend {
    public let name: String
    public let path: String
    public var location: String { path }
    public var backendKind: ShardBackendKind { .sqlite }
    public var connectionPool: ConnectionPoolUse? { nil }
    public let metrics: ShardMetrics
    let settings: ShardSettings
    /// Why the shard never serves (its file is not one a shard may use), or nil.
    let refusal: CollegeDBError?
    let lifecycle = Mutex<Lifecycle>(.closed(failure: nil))
    let fault = Mutex<String?>(nil)
    let lastUseTick = Atomic<UInt64>(0)
    let closedCommitCounts = Mutex<(commits: Int, calls: Int)>((0, 0))
    /// What checks the file before its first open, when the engine did not check it at start.
    let firstOpenCheck: (@Sendable () throws -> Void)?
    let checkedFile = Atomic(false)
    /// Whether the shard was open once, so that its file is known (``OpenShardSlots/claim(_:for:)``).
    let everOpened = Atomic(false)

    enum Lifecycle {
        /// No connection is open; `failure` says why the last attempt to open failed.
        case closed(failure: CollegeDBError?)
        /// The connections are open and `users` calls use them.
        case open(OpenShardFiles, users: Int)
    }

    /// A shard of the file at `path`, checked by opening it now (creating it, and its parent
    /// directory, when missing); its query and error counts continue from `savedMetrics`.
    /// - Throws: `SHARD_UNAVAILABLE` when the file cannot be opened.
    public convenience init(
        name: String,
        path: String,
        settings: ShardSettings = ShardSettings(),
        savedMetrics: (queries: Int, errors: Int)? = nil
    ) throws {
        self.init(reportingFailure: name, path: path, settings: settings, savedMetrics: savedMetrics)
        try withOpenFiles { _ in }
    }

    /// A shard of the file at `path`, opened on its first use like `init`, which reports
    /// itself unavailable (or read-only) and refuses every call with `SHARD_UNAVAILABLE` while
    /// its file cannot be opened, so that one bad file does not stop the others. Touches no
    /// file but to see whether it can be written.
    ///
    /// `firstOpenCheck`, when given, runs before the file is first opened; the shard is
    /// unavailable while it throws.
    public init(
        reportingFailure name: String,
        path: String,
        settings: ShardSettings = ShardSettings(),
        savedMetrics: (queries: Int, errors: Int)? = nil,
        firstOpenCheck: (@Sendable () throws -> Void)? = nil
    ) {
        self.name = name
        self.path = path
        self.settings = settings
        self.firstOpenCheck = firstOpenCheck
        refusal = nil
        metrics = ShardMetrics(queries: savedMetrics?.queries ?? 0, errors: savedMetrics?.errors ?? 0)
        // Past the eager checks (many shards), a read-only file is found at its first open.
        if firstOpenCheck == nil, FileManager.default.fileExists(atPath: path), access(path, W_OK) != 0 {
            lifecycle.withLock { $0 = .closed(failure: Self.openingFailure(name: name, path: path, readOnly: true)) }
        }
    }

    /// A shard that serves no call, for `reason`, and touches no file.
    init(name: String, path: String, unavailable reason: CollegeDBError) {
        self.name = name
        self.path = path
        settings = ShardSettings()
        metrics = ShardMetrics()
        firstOpenCheck = nil
        refusal = CollegeDBError(.shardUnavailable, reason.message)
    }

    static func configuration() -> Configuration {
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(5)
        configuration.maximumReaderCount = 2
        // For checking a move's copy; registered once, so that statements stay prepared.
        configuration.prepareDatabase { db in db.add(function: CopyChecksum.function) }
        return configuration
    }

    /// The shard's state: ok, read-only or unavailable (cannot be opened), or failed (corrupt or
    /// unreadable since it opened). A shard never used yet is ok.
    public var health: ShardHealth {
        if refusal != nil { return .unavailable }
        if case .closed(let failure?) = lifecycle.withLock({ $0 }) {
            return failure.sqlite?.code == SQLITE_READONLY ? .readOnly : .unavailable
        }
        return fault.withLock { $0 } == nil ? .ok : .failed
    }

    /// Why the shard does not serve, or nil when it does.
    public var unavailableReason: String? {
        if let refusal { return refusal.message }
        if case .closed(let failure?) = lifecycle.withLock({ $0 }) { return failure.message }
        return fault.withLock { $0 }.map { "shard '\(name)' failed: \($0)" }
    }

    // MARK: Clients' statements

    /// A SQLite shard serves quick reads on the calling thread and queues writes.
    package var hasSynchronousPath: Bool { true }

    /// Runs one statement on this thread when a place is free and it finishes within the quick
    /// budget; otherwise returns nil having left nothing behind, and
    /// ``execute(_:rowLimit:limits:)`` should run it. A write runs alone when the writer is
    /// idle, else joins the next group commit and waits for it here (at most
    /// `GroupCommitter.maximumBlockedThreads` threads at once). Blocks on SQLite: call it off
    /// event loops, except with `onEventLoop`.
    ///
    /// On an event loop pass `onEventLoop`: the statement must then be a read, and its budget is
    /// ``ShardSettings/eventLoopBudget``.
    public func executeQuickly(
        _ statement: SQLStatement,
        rowLimit: Int?,
        limits: QueryLimits,
        onEventLoop: Bool = false
    ) throws -> QueryResult? {
        if !onEventLoop, !isOpen,
            let answer = try metrics.measureAttempt({
                try translatingFailuresOfQuickAttempt {
                    try answerIfUnwritten(statement, rowLimit: rowLimit, limits: limits)
                }
            })
        {
            return answer
        }
        guard let files = try acquireFiles(opening: !onEventLoop) else { return nil }
        defer { releaseFiles() }
        let clients = files.clients
        return try metrics.measureAttempt {
            try translatingFailuresOfQuickAttempt {
                guard clients.quickReads.tryEnter() else { return nil }
                let attempt: QuickAttempt
                do {
                    defer { clients.quickReads.leave() }
                    attempt = try quickAttempt(
                        statement,
                        rowLimit: rowLimit,
                        limits: limits,
                        budget: onEventLoop ? settings.eventLoopBudget : settings.quickBudget,
                        on: clients
                    )
                }
                switch attempt {
                case .done(let result): return result
                case .overBudget: return nil
                case .needsWriter:
                    guard !onEventLoop else { return nil }
                    let alone = try clients.writes().runAloneIfIdle { writer in
                        try run(
                            statement,
                            rowLimit: rowLimit,
                            on: writer,
                            timing: settings.timing(limits.forWrite, budget: settings.quickBudget)
                        )
                    }
                    if let alone { return alone }
                    return try clients.writes().runInGroupBlocking { writer in
                        try self.run(
                            statement,
                            rowLimit: rowLimit,
                            on: writer,
                            timing: self.settings.timing(limits.forWrite)
                        )
                    }
                }
            }
        }
    }

    /// Puts a write in the shard's next group commit without waiting, for a caller on an event
    /// loop: the statement is compiled on a reader to learn that it writes (no waiting: false
    /// when no reader place is free now, or when it reads), then queued; `completion` gets the
    /// outcome on the committing thread. Returns whether it was queued.
    public func enqueueWrite(
        _ statement: SQLStatement,
        rowLimit: Int?,
        limits: QueryLimits,
        completion: @escaping @Sendable (Result<QueryResult, CollegeDBError>) -> Void
    ) throws -> Bool {
        guard let files = try acquireFiles(opening: false) else { return false }
        var queued = false
        defer { if !queued { releaseFiles() } }
        let clients = files.clients
        let writes = try translatingFailuresOfQuickAttempt { () -> Bool? in
            guard clients.quickReads.tryEnter() else { return nil }
            defer { clients.quickReads.leave() }
            return try clients.withReader { reader in
                try reader.withStatement(statement.sql) { !reader.isReadOnly($0) }
            }
        }
        guard writes == true else { return false }
        let started = metrics.started()
        do {
            try clients.writes().enqueue(
                { writer in
                    try self.run(
                        statement,
                        rowLimit: rowLimit,
                        on: writer,
                        timing: self.settings.timing(limits.forWrite)
                    )
                },
                answer: { outcome in
                    self.releaseFiles()
                    let translated = outcome.mapError { self.translated($0) }
                    let failed = if case .failure = translated { true } else { false }
                    self.metrics.finished(started, failed: failed)
                    completion(translated)
                }
            )
            queued = true
        } catch {
            metrics.finished(started, failed: true)
            throw translated(error)
        }
        return true
    }

    /// Runs one statement, waiting for a place when every one is taken: first in the quick
    /// lane; a read that runs past the quick budget runs again in the slow lane, a write on the
    /// writer. `rowLimit` stops reading rows early (for `first`).
    /// - Throws: `STATEMENT_REFUSED`, `STATEMENT_TIMEOUT`, `OVERLOADED`, `QUERY_FAILED`, ...
    public func execute(
        _ statement: SQLStatement,
        rowLimit: Int? = nil,
        limits: QueryLimits = QueryLimits()
    )
        async throws -> QueryResult
    {
        if let answer = try await answerIfUnwritten(statement, rowLimit: rowLimit, limits: limits) { return answer }
        let clients = try await acquireFilesForCall().clients
        defer { releaseFiles() }
        return try await metrics.measure {
            try await translatingFailures {
                let attempt = try await clients.quickReads.holding {
                    try await BlockingWork.run {
                        try self.quickAttempt(
                            statement,
                            rowLimit: rowLimit,
                            limits: limits,
                            budget: self.settings.quickBudget,
                            on: clients
                        )
                    }
                }
                switch attempt {
                case .done(let result):
                    return result
                case .overBudget:
                    return try await clients.slowReads.holding {
                        try await BlockingWork.runLong {
                            try clients.withReader { reader in
                                try self.run(
                                    statement,
                                    rowLimit: rowLimit,
                                    on: reader,
                                    timing: self.settings.timing(limits)
                                )
                            }
                        }
                    }
                case .needsWriter:
                    return try await clients.writes().submit { writer in
                        try self.run(
                            statement,
                            rowLimit: rowLimit,
                            on: writer,
                            timing: self.settings.timing(limits.forWrite)
                        )
                    }
                }
            }
        }
    }

    /// Runs `statement` unless SQLite compiles it as a write; then returns nil, having run
    /// nothing.
    public func executeIfReadOnly(
        _ statement: SQLStatement,
        rowLimit: Int?,
        limits: QueryLimits
    ) async throws -> QueryResult? {
        if let answer = try await answerIfUnwritten(statement, rowLimit: rowLimit, limits: limits) { return answer }
        guard try await isReadOnly(statement.sql) else { return nil }
        return try await execute(statement, rowLimit: rowLimit, limits: limits)
    }

    /// Runs `statements` in one write transaction: all commit together or none does. The time
    /// limit covers the whole batch.
    public func executeBatch(
        _ statements: [SQLStatement],
        limits: QueryLimits = QueryLimits()
    ) async throws
        -> [QueryResult]
    {
        let clients = try await acquireFilesForCall().clients
        defer { releaseFiles() }
        return try await metrics.measure {
            try await translatingFailures {
                try await clients.writes().submit { writer in
                    let timing = self.settings.timing(limits.forWrite)
                    return try statements.map { try self.run($0, rowLimit: nil, on: writer, timing: timing) }
                }
            }
        }
    }

    /// Compiles `sql` under the policy without running it.
    public func describe(_ sql: String) async throws -> StatementDescription {
        let clients = try await acquireFilesForCall().clients
        defer { releaseFiles() }
        return try await metrics.measure {
            try await translatingFailures {
                try await clients.quickReads.holding {
                    try await BlockingWork.run {
                        try clients.withReader { reader in
                            try reader.withStatement(sql) { compiled in
                                StatementDescription(
                                    shard: self.name,
                                    parameterCount: Int(sqlite3_bind_parameter_count(compiled)),
                                    columns: (0..<sqlite3_column_count(compiled)).map {
                                        String(cString: sqlite3_column_name(compiled, $0))
                                    },
                                    readOnly: reader.isReadOnly(compiled)
                                )
                            }
                        }
                    }
                }
            }
        }
    }

    /// Whether SQLite compiles `sql` as a statement that does not write (refusing what the
    /// policy refuses).
    public func isReadOnly(_ sql: String) async throws -> Bool {
        try await describe(sql).readOnly
    }

    /// Runs every statement of `script` under the policy in one transaction, and returns how
    /// many ran.
    public func executeScript(_ script: String, limits: QueryLimits = QueryLimits()) async throws -> Int {
        let clients = try await acquireFilesForCall().clients
        defer { releaseFiles() }
        return try await metrics.measure {
            try await translatingFailures {
                try await clients.writes().submit { writer in
                    try writer.runScript(script, timing: self.settings.timing(limits.forWrite))
                }
            }
        }
    }

    public func applySchemaChange(name: String, sql: String, limits: QueryLimits) async throws -> Bool {
        let clients = try await acquireFilesForCall().clients
        defer { releaseFiles() }
        return try await metrics.measure {
            try await translatingFailures {
                try await clients.writes().submit { writer in
                    try writer.runSchemaChange(sql, name: name, timing: self.settings.timing(limits.forWrite))
                }
            }
        }
    }

    /// Write transactions committed for clients since the start, and the calls they carried:
    /// their ratio is the mean size of a group commit. Zero for a shard that does not serve.
    public var commitCounts: (commits: Int, calls: Int) {
        let closed = closedCommitCounts.withLock { $0 }
        guard case .open(let files, _) = lifecycle.withLock({ $0 }) else { return closed }
        let open = files.clients.commitCounts
        return (closed.commits + open.commits, closed.calls + open.calls)
    }

    /// Each pooled client connection's settings and leftovers (`PRAGMA foreign_keys`,
    /// attached databases, temporary objects, open transaction), to check that no call left
    /// anything behind.
    package func clientConnectionStates() throws -> [[String: String]] {
        try withOpenFiles { try $0.clients.stateReports() }
    }

    // MARK: The daemon's own work

    /// The database size in bytes: `page_count * page_size`; for a closed shard, its file's
    /// size (the same once SQLite checkpointed it on closing), without opening it.
    public func sizeInBytes() throws -> Int64 {
        guard isOpen else {
            let size = try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber
            // A file not written yet is empty.
            return size?.int64Value ?? 0
        }
        return try withPool { pool in
            try pool.unsafeRead { db in
                let pageCount = try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0
                let pageSize = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 0
                return pageCount * pageSize
            }
        }
    }

    public func measureSize() async throws -> Int64 {
        try await BlockingWork.run { try self.sizeInBytes() }
    }

    public func checkHealth() async -> ShardHealth {
        // A closed shard is not opened to be checked: its state as last seen.
        guard isOpen else { return health }
        // No thread to check on (shutting down): the state as last seen.
        return (try? await BlockingWork.run { self.currentHealth() }) ?? health
    }

    public func shutDown() async throws {
        try await BlockingWork.run { self.close() }
    }

    public func warmUp() async throws {
        _ = try await acquireFilesForCall()
        releaseFiles()
    }

    /// Closes every connection; later calls open the shard again.
    public func close() {
        let files = lifecycle.withLock { state -> OpenShardFiles? in
            guard case .open(let files, _) = state else { return nil }
            state = .closed(failure: nil)
            settings.openShards.closed(self)
            return files
        }
        files?.close()
    }

    /// The shard's health, checked now: an open shard that stopped answering a trivial query
    /// (its file removed, overwritten, unreadable) is marked failed; a closed one is not opened
    /// for it.
    public func currentHealth() -> ShardHealth {
        guard health == .ok else { return health }
        do {
            guard let files = try acquireFiles(opening: false) else { return health }
            defer { releaseFiles() }
            try files.checkReadable()
        } catch {
            _ = translated(error)
            if health == .ok { noteFault(code: SQLITE_IOERR, message: "\(error)") }
        }
        return health
    }

    // MARK: Internals

    private enum QuickAttempt {
        case done(QueryResult)
        case overBudget
        case needsWriter
    }

    /// Compiles on a reader; runs a read there within the quick budget.
    private func quickAttempt(
        _ statement: SQLStatement,
        rowLimit: Int?,
        limits: QueryLimits,
        budget: Duration,
        on clients: ShardConnections
    ) throws -> QuickAttempt {
        try clients.withReader { reader in
            try reader.withStatement(statement.sql) { compiled in
                guard reader.isReadOnly(compiled) else { return .needsWriter }
                do {
                    return .done(
                        try reader.run(
                            compiled,
                            bindings: statement.bindings,
                            rowLimit: rowLimit,
                            shard: name,
                            timing: settings.timing(limits, budget: budget)
                        )
                    )
                } catch ClientConnection.Interruption.budget {
                    return .overBudget
                }
            }
        }
    }

    /// Compiles and runs `statement` on `connection`; a quick attempt that runs past its
    /// budget throws ``ClientConnection/Interruption/budget``, having left nothing behind.
    private func run(
        _ statement: SQLStatement,
        rowLimit: Int?,
        on connection: ClientConnection,
        timing: StatementTiming
    ) throws -> QueryResult {
        try connection.withStatement(statement.sql) { compiled in
            try connection.run(
                compiled,
                bindings: statement.bindings,
                rowLimit: rowLimit,
                shard: name,
                timing: timing
            )
        }
    }

    /// Translates what SQLite and the connections threw into the engine's errors, and marks the
    /// shard failed at the first sign that its file is corrupt or unreadable.
    func translatingFailures<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw translated(error)
        }
    }

    private func translatingFailuresOfQuickAttempt<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw translated(error)
        }
    }

    func translated(_ error: any Error) -> CollegeDBError {
        switch error {
        case ClientConnection.Interruption.deadline(let limit):
            return CollegeDBError(
                .statementTimeout,
                "shard '\(name)': the statement ran longer than \(limit.secondsDescription) s and was interrupted; "
                    + "nothing it wrote remains"
            )
        case ClientConnection.Interruption.cancelled:
            return CollegeDBError(.cancelled, "shard '\(name)': the caller went away; the statement was interrupted")
        case ClientConnection.Interruption.budget:
            return CollegeDBError(.internalError, "shard '\(name)': a quick attempt escaped its lane")
        case let failure as ClientConnection.Failure:
            noteFault(code: failure.code, message: failure.message)
            return CollegeDBError.fromSQLite(
                CollegeDBError.SQLiteFailure(
                    code: failure.code,
                    extendedCode: failure.extendedCode,
                    message: failure.message
                ),
                shard: name
            )
        default:
            let translated = CollegeDBError.fromQuery(error, shard: name)
            if let sqlite = translated.sqlite { noteFault(code: sqlite.code, message: sqlite.message) }
            return translated
        }
    }

    func noteFault(code: Int32, message: String) {
        guard code == SQLITE_CORRUPT || code == SQLITE_NOTADB || code == SQLITE_IOERR else { return }
        fault.withLock { fault in
            if fault == nil { fault = "\(message) (SQLite code \(code)); restart once the file is repaired" }
        }
    }
}
