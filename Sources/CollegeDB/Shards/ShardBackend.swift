/// What every kind of shard does for clients' statements and for the daemon's reports: a
/// SQLite file (``ShardDatabase``) or a PostgreSQL database (``PostgresShard``).
///
/// The router, fan-out, federation, rebalancing and moves speak only this protocol: its
/// optional synchronous fast path, its owned-row scans (``OwnedRowsScanning``) and its mover to
/// a shard of its kind (``mover(to:context:)``) and what adopting its existing tables reads
/// (``adoptable``, which only SQLite shards offer) included.
package protocol ShardBackend: OwnedRowsScanning {
    /// The shard's name, unique among the shards.
    var name: String { get }
    /// Where the shard is, as `getShardMetadata` shows it: a file path, or a PostgreSQL URL
    /// without its password.
    var location: String { get }
    /// The kind of backend: `sqlite` or `postgres`.
    var backendKind: ShardBackendKind { get }
    /// The shard's live query, error and activity counts.
    var metrics: ShardMetrics { get }
    /// The shard's state as last seen, without asking the database.
    var health: ShardHealth { get }
    /// Why the shard does not serve now, or nil when it does.
    var unavailableReason: String? { get }

    /// Runs one statement. `rowLimit` keeps at most that many rows (for `first`).
    /// - Throws: `STATEMENT_REFUSED`, `STATEMENT_TIMEOUT`, `OVERLOADED`, `QUERY_FAILED`,
    ///   `SHARD_UNAVAILABLE`, `RESULT_TOO_LARGE`.
    func execute(_ statement: SQLStatement, rowLimit: Int?, limits: QueryLimits) async throws -> QueryResult

    /// Runs one statement only if it does not write, and returns nil, having changed nothing,
    /// when it would write: how a read of an unmapped key is told from a first write.
    func executeIfReadOnly(
        _ statement: SQLStatement,
        rowLimit: Int?,
        limits: QueryLimits
    ) async throws
        -> QueryResult?

    /// Runs `statements` in one transaction: all commit together or none does.
    func executeBatch(_ statements: [SQLStatement], limits: QueryLimits) async throws -> [QueryResult]

    /// Compiles `sql` without running it.
    func describe(_ sql: String) async throws -> StatementDescription

    /// Runs every statement of `script` in one transaction and returns how many ran.
    func executeScript(_ script: String, limits: QueryLimits) async throws -> Int

    /// Runs recorded schema change `name` (the statements of `sql`, under the policy of
    /// ``executeScript(_:limits:)``) and notes it in the shard's ledger (``ShardSchemaLedger``),
    /// in one transaction; does nothing when the ledger has it. Returns whether it ran now.
    func applySchemaChange(name: String, sql: String, limits: QueryLimits) async throws -> Bool

    /// The database's size in bytes: `page_count * page_size`, or `pg_database_size`.
    func measureSize() async throws -> Int64

    /// The shard's health, checked now against the database.
    func checkHealth() async -> ShardHealth

    /// The use of the shard's connection pool to a database server; nil for a SQLite file.
    var connectionPool: ConnectionPoolUse? { get }

    /// Closes every connection; later calls fail.
    func shutDown() async throws

    /// Opens the shard now when it opens lazily, so that a file that cannot serve is known
    /// before the shard is published; a backend that connects on demand does nothing.
    /// - Throws: `SHARD_UNAVAILABLE` when it cannot be opened.
    func warmUp() async throws

    /// Whether the backend makes `collegedb_id()` itself, in the database, with the node the
    /// catalog gave it (``prepareIdentifiers(node:)``); false when the daemon gives it its ids.
    var makesItsOwnIdentifiers: Bool { get }

    /// Makes `collegedb_id()` in the database, with ids of `node` (``ClusterIdentifiers``).
    func prepareIdentifiers(node: Int64) async throws

    // MARK: The optional synchronous fast path

    /// Whether ``executeQuickly(_:rowLimit:limits:onEventLoop:)`` or
    /// ``enqueueWrite(_:rowLimit:limits:completion:)`` can serve a call. When not, a caller
    /// goes straight to the asynchronous path, with no attempt on a request thread.
    var hasSynchronousPath: Bool { get }

    /// Runs `statement` at once on this thread when that takes no waiting (a free place and a
    /// quick statement), or returns nil having changed nothing; `onEventLoop` asks for a budget
    /// an event loop can afford. A backend without such a path always returns nil.
    func executeQuickly(
        _ statement: SQLStatement,
        rowLimit: Int?,
        limits: QueryLimits,
        onEventLoop: Bool
    ) throws -> QueryResult?

    /// Queues a write without waiting, answering `completion` once it committed; returns false
    /// having done nothing when it cannot (or the statement reads). A backend without such a
    /// path always returns false.
    func enqueueWrite(
        _ statement: SQLStatement,
        rowLimit: Int?,
        limits: QueryLimits,
        completion: @escaping @Sendable (Result<QueryResult, CollegeDBError>) -> Void
    ) throws -> Bool

    /// Transactions committed and the calls they carried, for a backend that groups commits;
    /// (0, 0) for one that does not.
    var commitCounts: (commits: Int, calls: Int) { get }

    // MARK: Moves

    /// The mover of records' rows from this shard to `target`.
    /// - Throws: `UNSUPPORTED_ON_BACKEND` when `target` is a shard of another kind.
    func mover(to target: any ShardBackend, context: MoveContext) throws -> any ShardMover

    /// What adopting the existing tables of the shard reads; nil when the backend cannot adopt.
    var adoptable: (any AdoptableShard)? { get }

    /// Copies the database to a new file at `path` while it serves (SQLite's online backup
    /// API, from one read snapshot: writers do not wait) and returns the bytes written; nil
    /// when the backend is not copied by the daemon (a PostgreSQL database).
    func backUp(to path: String) async throws -> Int64?
}

extension ShardBackend {
    /// No synchronous path, unless the backend says otherwise.
    package var hasSynchronousPath: Bool { false }

    /// No synchronous path: every call goes through ``execute(_:rowLimit:limits:)``.
    package func executeQuickly(
        _ statement: SQLStatement,
        rowLimit: Int?,
        limits: QueryLimits,
        onEventLoop: Bool
    ) throws -> QueryResult? { nil }

    /// No queue of writes to join without waiting.
    package func enqueueWrite(
        _ statement: SQLStatement,
        rowLimit: Int?,
        limits: QueryLimits,
        completion: @escaping @Sendable (Result<QueryResult, CollegeDBError>) -> Void
    ) throws -> Bool { false }

    /// No grouped commits.
    package var commitCounts: (commits: Int, calls: Int) { (0, 0) }

    /// The daemon gives the backend its ids (each SQLite connection has the function).
    package var makesItsOwnIdentifiers: Bool { false }

    /// Nothing to make in the database.
    package func prepareIdentifiers(node: Int64) async throws {}

    /// No adoption.
    package var adoptable: (any AdoptableShard)? { nil }

    /// Not copied by the daemon.
    package func backUp(to path: String) async throws -> Int64? { nil }
}

/// How much of a shard's connection pool is in use.
public struct ConnectionPoolUse: Sendable, Hashable {
    /// Connections leased to statements now.
    public var inUse: Int
    /// Statements waiting for a connection now.
    public var waiting: Int
    /// The most connections the pool opens.
    public var maximum: Int
}

/// The kinds of shard backend.
public enum ShardBackendKind: String, Sendable, Hashable {
    case sqlite
    case postgres
}

extension ShardBackend {
    /// The error for a move from `self` to `target`, a shard of another kind.
    func moveBetweenKinds(to target: any ShardBackend) -> CollegeDBError {
        CollegeDBError(
            .unsupportedOnBackend,
            "rows move between two SQLite or two PostgreSQL shards only: '\(name)' is a \(backendKind.rawValue) "
                + "shard and '\(target.name)' a \(target.backendKind.rawValue) shard"
        )
    }

    /// What adopting the shard's existing tables reads.
    /// - Throws: `UNSUPPORTED_ON_BACKEND` for a backend that cannot adopt.
    func adoptableShard() throws -> any AdoptableShard {
        guard let shard = adoptable else {
            throw CollegeDBError(
                .unsupportedOnBackend,
                "shard '\(name)' is a \(backendKind.rawValue) shard: adopting existing tables works on SQLite shards only"
            )
        }
        return shard
    }
}
