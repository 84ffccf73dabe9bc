import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// One shard that is a PostgreSQL database, reached through a postgres-nio connection pool.
///
/// Each call leases one pooled connection: a single statement runs in the server's own
/// implicit transaction (one round trip), a `batch` or a schema between `BEGIN` and `COMMIT`,
/// and a read of an unmapped key in a `READ ONLY` transaction, which the server fails with
/// SQLSTATE 25006 when the statement would write (then nothing ran, and the router allocates).
/// The daemon's statement timeout is the sessions' `statement_timeout`.
///
/// The shard tells a server that is down from a failing statement: a connection that cannot
/// be made or is lost gives `SHARD_UNAVAILABLE`, and while the server stays down callers are
/// answered at once, with one call a second trying it again, so the shard serves again as
/// soon as the server is back, without a restart.
public final class PostgresShard: ShardBackend {
    public let name: String
    public let address: PostgresShardAddress
    public let metrics: ShardMetrics
    let settings: ShardSettings
    let client: PostgresClient
    let running: PostgresClientRun
    let logger: Logger
    let state = Mutex(State())

    struct State {
        var inUse = 0
        var waiting = 0
        /// Why the server could not be reached, since when, and when it was last tried.
        var outage: (reason: String, lastTried: ContinuousClock.Instant)?
    }

    /// How long a shard whose server is down answers at once before a call tries it again.
    static let retryInterval: Duration = .seconds(1)

    /// Starts a pool for the database at `address`; no connection is made until a call needs
    /// one, so a server that is down does not stop the daemon from starting.
    /// - Throws: `INVALID_PARAMS` when the shard's password file cannot be read.
    public init(
        name: String,
        address: PostgresShardAddress,
        settings: ShardSettings = ShardSettings(),
        savedMetrics: (queries: Int, errors: Int)? = nil,
        clients: PostgresClients,
        logger: Logger = Logger(label: "collegedb.postgres")
    ) throws {
        self.name = name
        self.address = address
        self.settings = settings
        self.logger = logger
        metrics = ShardMetrics(queries: savedMetrics?.queries ?? 0, errors: savedMetrics?.errors ?? 0)
        let configuration = try address.clientConfiguration(
            startupOptions: "-c statement_timeout=\(settings.statementTimeout.statementTimeoutMilliseconds)"
        )
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        running = try clients.start(client)
    }

    public var location: String { address.description }
    public var backendKind: ShardBackendKind { .postgres }

    public var health: ShardHealth { state.withLock { $0.outage == nil } ? .ok : .unavailable }

    public var unavailableReason: String? {
        state.withLock { $0.outage.map { unavailable($0.reason).message } }
    }

    public var connectionPool: ConnectionPoolUse? {
        state.withLock { ConnectionPoolUse(inUse: $0.inUse, waiting: $0.waiting, maximum: address.poolSize) }
    }

    // MARK: Clients' statements

    public func execute(
        _ statement: SQLStatement,
        rowLimit: Int? = nil,
        limits: QueryLimits = QueryLimits()
    ) async throws -> QueryResult {
        let text = try checked(statement)
        if let fence = RecordFence.current {
            return try await measured {
                try await withClientSession { connection in
                    try await self.transaction(on: connection, timeout: self.shorterTimeout(limits)) {
                        try await fence.hold(on: connection, logger: self.logger)
                        return try await self.run(text, statement.bindings, rowLimit: rowLimit, on: connection)
                    }
                }
            }
        }
        let transaction = shorterTimeout(limits).map { ChainedTransaction(readOnly: false, timeout: $0) }
        return try await measured {
            try await withChainedClientSession { connection in
                self.chained(text, statement.bindings, rowLimit: rowLimit, in: transaction, on: connection)
            }
        }
    }

    public func executeIfReadOnly(
        _ statement: SQLStatement,
        rowLimit: Int?,
        limits: QueryLimits
    ) async throws -> QueryResult? {
        let text = try checked(statement)
        let transaction = ChainedTransaction(readOnly: true, timeout: shorterTimeout(limits))
        return try await measured {
            try await withChainedClientSession { connection in
                self.chained(text, statement.bindings, rowLimit: rowLimit, in: transaction, on: connection)
                    .map(Optional.some)
                    // The server refused a write: an answer (nil), and the server is up.
                    .flatMapErrorThrowing { error in
                        guard let error = error as? PSQLError, error.sqlState == Self.readOnlyTransaction else {
                            throw error
                        }
                        return nil
                    }
            }
        }
    }

    public func executeBatch(
        _ statements: [SQLStatement],
        limits: QueryLimits = QueryLimits()
    ) async throws
        -> [QueryResult]
    {
        let texts = try statements.map { try checked($0) }
        let fence = RecordFence.current
        return try await measured {
            try await withClientSession { connection in
                try await self.transaction(on: connection, timeout: self.shorterTimeout(limits)) {
                    try await fence?.hold(on: connection, logger: self.logger)
                    var results: [QueryResult] = []
                    for (text, statement) in zip(texts, statements) {
                        results.append(try await self.run(text, statement.bindings, rowLimit: nil, on: connection))
                    }
                    return results
                }
            }
        }
    }

    /// Learns what the statement returns and whether it writes by running it in a `READ ONLY`
    /// transaction that is always rolled back, with every parameter NULL: first as the right
    /// side of `(SELECT 1) LEFT JOIN (statement) ON true LIMIT 1`, which returns one row (so
    /// its columns) even when the statement returns none; a statement that cannot be a
    /// subquery (a write, `SHOW`, `EXPLAIN`) then runs as it is. Whether it writes is what the
    /// server says (SQLSTATE 25006); a function with side effects called by a `SELECT` is not
    /// seen. No work of it remains.
    public func describe(_ sql: String) async throws -> StatementDescription {
        let text = try checked(SQLStatement(sql: sql), checkingBindings: false)
        let nulls = [SQLValue](repeating: .null, count: text.parameterCount)
        let wrapped = PostgresStatementText(
            "SELECT _collegedb_described.* FROM (SELECT 1) AS _collegedb_one LEFT JOIN (\n"
                + CollegeDB.withoutTrailingSemicolons(sql) + "\n) AS _collegedb_described ON true LIMIT 1"
        )
        @Sendable func description(_ columns: [String], readOnly: Bool) -> StatementDescription {
            StatementDescription(shard: name, parameterCount: text.parameterCount, columns: columns, readOnly: readOnly)
        }
        return try await measured {
            try await withClientSession { connection in
                for attempt in [wrapped, text] {
                    do {
                        let result = try await self.transaction(on: connection, readOnly: true, committing: false) {
                            try await self.run(attempt, nulls, rowLimit: 1, on: connection)
                        }
                        return description(result.columns, readOnly: true)
                    } catch let error as PSQLError where error.sqlState == Self.readOnlyTransaction {
                        return description([], readOnly: false)
                    } catch let error as PSQLError where attempt == wrapped && error.sqlState != nil {
                        continue
                    }
                }
                return description([], readOnly: false)
            }
        }
    }

    public func executeScript(_ script: String, limits: QueryLimits = QueryLimits()) async throws -> Int {
        let texts = try PostgresStatementText.statements(in: script).map { try checked(SQLStatement(sql: $0)) }
        return try await measured {
            try await withClientSession { connection in
                try await self.transaction(on: connection, timeout: self.shorterTimeout(limits)) {
                    for text in texts { _ = try await self.run(text, [], rowLimit: 0, on: connection) }
                    return texts.count
                }
            }
        }
    }

    /// Runs schema change `name` under the shard's ledger lock (daemons of a shared catalog
    /// take turns), unless its ledger has it, and notes it there, in one transaction.
    public func applySchemaChange(name: String, sql: String, limits: QueryLimits) async throws -> Bool {
        let texts = try PostgresStatementText.statements(in: sql).map { try checked(SQLStatement(sql: $0)) }
        guard !texts.isEmpty else { throw CollegeDBError.invalidParams("sql: no SQL statement given") }
        let literal = ShardSchemaLedger.literal(name)
        return try await measured {
            try await withClientSession { connection in
                try await self.transaction(on: connection, timeout: self.shorterTimeout(limits)) {
                    try await connection.queryWhileOpen(
                        "SELECT pg_advisory_xact_lock(\(Self.schemaLedgerLock))",
                        logger: self.logger
                    )
                    try await connection.queryWhileOpen(
                        PostgresQuery(unsafeSQL: ShardSchemaLedger.createTable),
                        logger: self.logger
                    )
                    let found = try await connection.queryWhileOpen(
                        PostgresQuery(unsafeSQL: "SELECT 1 FROM \(ShardSchemaLedger.table) WHERE name = \(literal)"),
                        logger: self.logger
                    )
                    if !found.isEmpty { return false }
                    for text in texts { _ = try await self.run(text, [], rowLimit: 0, on: connection) }
                    try await connection.queryWhileOpen(
                        PostgresQuery(
                            unsafeSQL: """
                                INSERT INTO \(ShardSchemaLedger.table) (name, applied_at)
                                VALUES (\(literal), \(MappingStore.nowMilliseconds()))
                                """
                        ),
                        logger: self.logger
                    )
                    return true
                }
            }
        }
    }

    /// The advisory lock of a shard's schema ledger.
    static let schemaLedgerLock: Int64 = 0x636f_6c6c_6c65_6467  // "collledg"

    // MARK: The daemon's own work

    /// `pg_database_size` of the shard's database.
    public func measureSize() async throws -> Int64 {
        try await translatingFailures {
            try await withConnection { connection in
                let rows = try await connection.queryWhileOpen(
                    "SELECT pg_database_size(current_database())",
                    logger: self.logger
                )
                if let size = try rows.first(Int64.self) { return size }
                return 0
            }
        }
    }

    public var makesItsOwnIdentifiers: Bool { true }

    /// Makes `collegedb_id()` in the shard's database (in the first schema of its search path):
    /// `node << 47 | nextval('collegedb_id_sequence')`, the sequence stopping at 2^47 - 1 rather
    /// than run into the node's bits. Daemons making it at once take turns.
    public func prepareIdentifiers(node: Int64) async throws {
        try await translatingFailures {
            try await withConnection { connection in
                try await self.transaction(on: connection) {
                    try await connection.queryWhileOpen(
                        "SELECT pg_advisory_xact_lock(\(PostgresCatalog.identifierNodeLock))",
                        logger: self.logger
                    )
                    try await connection.queryWhileOpen(
                        PostgresQuery(
                            unsafeSQL:
                                "CREATE SEQUENCE IF NOT EXISTS collegedb_id_sequence MINVALUE 1 MAXVALUE \(ClusterIdentifiers.counterLimit - 1)"
                        ),
                        logger: self.logger
                    )
                    try await connection.queryWhileOpen(
                        PostgresQuery(
                            unsafeSQL: """
                                CREATE OR REPLACE FUNCTION collegedb_id() RETURNS bigint LANGUAGE sql VOLATILE
                                AS $collegedb$ SELECT (\(node)::bigint << \(ClusterIdentifiers.counterBits)) | nextval('collegedb_id_sequence') $collegedb$
                                """
                        ),
                        logger: self.logger
                    )
                }
            }
        }
    }

    public func checkHealth() async -> ShardHealth {
        // The probe's outcome is recorded in `health` by the connection's use; its error adds nothing.
        _ = try? await translatingFailures {
            try await withConnection(probing: true) { connection in
                try await connection.queryWhileOpen("SELECT 1", logger: self.logger)
            }
        }
        return health
    }

    public func shutDown() async throws {
        await running.stop()
    }

    /// Does nothing: the pool connects when first used.
    public func warmUp() async throws {}

    // MARK: Internals

    /// The most parameters a statement may take: PostgreSQL's own limit, 65,535.
    static let maximumParameters = 65_535

    /// SQLSTATE 25006, `read_only_sql_transaction`.
    static let readOnlyTransaction = "25006"

    /// The statement as the server gets it, or the refusal.
    private func checked(_ statement: SQLStatement, checkingBindings: Bool = true) throws -> PostgresStatementText {
        let text = PostgresStatementText(statement.sql)
        if text.hasSecondStatement {
            throw CollegeDBError.invalidParams("sql: one call takes exactly one SQL statement")
        }
        if text.firstKeyword.isEmpty { throw CollegeDBError.invalidParams("sql: no statement given") }
        guard text.parameterCount <= Self.maximumParameters else {
            throw CollegeDBError.invalidParams(
                "sql: a statement takes at most \(Self.maximumParameters) parameters ($\(text.parameterCount) given)"
            )
        }
        if let refusal = PostgresStatementPolicy.refusal(of: text) {
            throw CollegeDBError(.statementRefused, "shard '\(name)': \(refusal)")
        }
        guard !checkingBindings || statement.bindings.count == text.parameterCount else {
            throw CollegeDBError.invalidParams(
                "bindings: the statement takes \(text.parameterCount) value(s), \(statement.bindings.count) given"
            )
        }
        return text
    }

    /// The call's own time limit when it is shorter than the sessions' statement timeout.
    private func shorterTimeout(_ limits: QueryLimits) -> Duration? {
        guard let timeout = limits.timeout, timeout < settings.statementTimeout else { return nil }
        return timeout
    }

    private func measured<T>(_ body: () async throws -> T) async throws -> T {
        try await metrics.measure { try await translatingFailures(body) }
    }

    /// Runs `body` between `BEGIN` and `COMMIT` (or `ROLLBACK` when not `committing`: nothing it did
    /// remains), rolling back when it throws.
    func transaction<T>(
        on connection: PostgresConnection,
        readOnly: Bool = false,
        timeout: Duration? = nil,
        committing: Bool = true,
        _ body: () async throws -> T
    ) async throws -> T {
        _ = try await connection.queryWhileOpen(Self.begin(readOnly: readOnly), logger: logger)
        do {
            if let timeout {
                _ = try await connection.queryWhileOpen(Self.statementTimeout(timeout), logger: logger)
            }
            let value = try await body()
            _ = try await connection.queryWhileOpen(committing ? "COMMIT" : "ROLLBACK", logger: logger)
            return value
        } catch {
            // The body's error is the one to report; a connection whose ROLLBACK fails is dropped
            // by the pool, which rolls the transaction back with the session.
            _ = try? await connection.queryWhileOpen("ROLLBACK", logger: logger)
            throw error
        }
    }

    /// The transaction a chained statement runs in: `READ ONLY` or not, with the call's own
    /// shorter time limit.
    struct ChainedTransaction: Sendable {
        let readOnly: Bool
        let timeout: Duration?
    }

    /// Runs one checked statement as ``run(_:_:rowLimit:on:)`` does, chained on `connection`'s
    /// event loop (the caller is there): in `transaction` when given, rolled back when it fails,
    /// else alone in the server's implicit transaction.
    func chained(
        _ text: PostgresStatementText,
        _ bindings: [SQLValue],
        rowLimit: Int?,
        in transaction: ChainedTransaction?,
        on connection: PostgresConnection
    ) -> EventLoopFuture<QueryResult> {
        let collector = RowCollector(rowLimit: rowLimit, maximumBytes: settings.maximumResultBytes, shard: name)
        let query = PostgresQuery(unsafeSQL: text.sql, binds: PostgresValues.bindings(bindings))
        let logger = self.logger
        let runStatement = { @Sendable () -> EventLoopFuture<QueryResult> in
            let started = ContinuousClock.now
            return connection.queryOnLoop(query, logger: logger) { row in try collector.add(row) }.map { metadata in
                self.result(metadata, collector, elapsed: ContinuousClock.now - started)
            }
        }
        guard let transaction else { return runStatement() }
        return connection.queryOnLoop(Self.begin(readOnly: transaction.readOnly), logger: logger).flatMap { _ in
            let limited =
                transaction.timeout.map { timeout in
                    connection.queryOnLoop(Self.statementTimeout(timeout), logger: logger).map { _ in }
                } ?? connection.eventLoop.makeSucceededVoidFuture()
            return limited.flatMap { runStatement() }
                .flatMap { result in connection.queryOnLoop("COMMIT", logger: logger).map { _ in result } }
                .flatMapError { error in
                    // As in transaction(on:): the statement's error is the one to report.
                    connection.queryOnLoop("ROLLBACK", logger: logger).map { _ in }.recover { _ in }
                        .flatMapThrowing { throw error }
                }
        }
    }

    /// `BEGIN`, `READ ONLY` when asked.
    private static func begin(readOnly: Bool) -> PostgresQuery {
        PostgresQuery(unsafeSQL: readOnly ? "BEGIN READ ONLY" : "BEGIN")
    }

    /// A transaction's own statement timeout, shorter than the sessions'.
    private static func statementTimeout(_ timeout: Duration) -> PostgresQuery {
        PostgresQuery(unsafeSQL: "SET LOCAL statement_timeout = \(timeout.statementTimeoutMilliseconds)")
    }

    /// Runs one checked statement on `connection` and collects its rows, at most `rowLimit`
    /// of them and at most ``ShardSettings/maximumResultBytes`` in all.
    private func run(
        _ text: PostgresStatementText,
        _ bindings: [SQLValue],
        rowLimit: Int?,
        on connection: PostgresConnection
    ) async throws -> QueryResult {
        let collector = RowCollector(rowLimit: rowLimit, maximumBytes: settings.maximumResultBytes, shard: name)
        let started = ContinuousClock.now
        let metadata = try await connection.queryWhileOpen(
            PostgresQuery(unsafeSQL: text.sql, binds: PostgresValues.bindings(bindings)),
            logger: logger
        ) { row in try collector.add(row) }
        return result(metadata, collector, elapsed: ContinuousClock.now - started)
    }

    /// The answer to a statement whose rows `collector` holds.
    private func result(
        _ metadata: PostgresQueryMetadata,
        _ collector: RowCollector,
        elapsed: Duration
    ) -> QueryResult {
        let collected = collector.collected
        let writes = ["INSERT", "UPDATE", "DELETE", "MERGE"].contains(metadata.command)
        return QueryResult(
            shard: name,
            columns: collected.columns,
            rows: collected.rows,
            changes: writes ? (metadata.rows ?? 0) : 0,
            lastRowID: 0,
            durationMilliseconds: elapsed.fractionalMilliseconds
        )
    }
}

extension Duration {
    /// Whole milliseconds, at least 1, as `statement_timeout` takes them (0 would mean none).
    fileprivate var statementTimeoutMilliseconds: Int64 { max(1, wholeMilliseconds) }
}

extension PSQLError {
    /// The server's SQLSTATE, when the server reported the error.
    var sqlState: String? { serverInfo?[.sqlState] }
}

/// The rows of one statement as they arrive, bounded in count and bytes.
private final class RowCollector: Sendable {
    private let rowLimit: Int?
    private let maximumBytes: Int
    private let shard: String
    private let state = Mutex<(columns: [String], rows: [[SQLValue]], bytes: Int)>(([], [], 0))

    init(rowLimit: Int?, maximumBytes: Int, shard: String) {
        self.rowLimit = rowLimit
        self.maximumBytes = maximumBytes
        self.shard = shard
    }

    func add(_ row: PostgresRow) throws {
        let full = state.withLock { state in rowLimit.map { state.rows.count >= $0 } ?? false }
        if full { return }
        var columns: [String] = []
        var values: [SQLValue] = []
        for cell in row {
            columns.append(cell.columnName)
            values.append(try PostgresValues.value(of: cell))
        }
        let bytes = values.reduce(0) { $0 + $1.approximateBytes }
        try state.withLock { state in
            if state.rows.isEmpty { state.columns = columns }
            state.bytes += bytes
            guard state.bytes <= maximumBytes else {
                throw CollegeDBError(
                    .resultTooLarge,
                    "shard '\(shard)': the result holds more than \(maximumBytes) bytes; page it (LIMIT/OFFSET)"
                )
            }
            state.rows.append(values)
        }
    }

    var collected: (columns: [String], rows: [[SQLValue]]) {
        state.withLock { ($0.columns, $0.rows) }
    }
}
