/// An error of the engine. Its `code` is stable and travels to clients as `error.data.code`;
/// the message is for people.
public struct CollegeDBError: Error, Sendable, CustomStringConvertible {
    /// A stable, machine-readable error code. New codes may be added; clients should treat an
    /// unknown code as a generic failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The wire spelling, for example `SHARD_NOT_FOUND`.
        public let rawValue: String

        public init(_ rawValue: String) { self.rawValue = rawValue }

        public var description: String { rawValue }

        /// A parameter is missing, of the wrong type, or out of range.
        public static let invalidParams = Code("INVALID_PARAMS")
        public static let shardNotFound = Code("SHARD_NOT_FOUND")
        public static let mappingNotFound = Code("MAPPING_NOT_FOUND")
        /// The shard refused or failed the statement; `sqlite` or `postgres` says why.
        public static let queryFailed = Code("QUERY_FAILED")
        public static let invalidTableName = Code("INVALID_TABLE_NAME")
        public static let shardNotEmpty = Code("SHARD_NOT_EMPTY")
        public static let shardUnavailable = Code("SHARD_UNAVAILABLE")
        public static let noShards = Code("NO_SHARDS")
        public static let flushDisabled = Code("FLUSH_DISABLED")
        public static let requestTooLarge = Code("REQUEST_TOO_LARGE")
        public static let overloaded = Code("OVERLOADED")
        public static let migrationInProgress = Code("MIGRATION_IN_PROGRESS")
        /// The disk holding a database is full; nothing was written.
        public static let storageFull = Code("STORAGE_FULL")
        /// A lookup key already belongs to another record.
        public static let keyConflict = Code("KEY_CONFLICT")
        /// A shard of that name is already known.
        public static let shardExists = Code("SHARD_EXISTS")
        /// The mapping store could not be read or written.
        public static let mappingStoreFailed = Code("MAPPING_STORE_FAILED")
        /// The statement is of a kind the daemon does not run for clients (transaction control,
        /// ATTACH, VACUUM, state-changing pragmas, ...); the message says what to use instead.
        public static let statementRefused = Code("STATEMENT_REFUSED")
        /// The statement ran past its time limit and was interrupted; nothing it wrote remains.
        public static let statementTimeout = Code("STATEMENT_TIMEOUT")
        /// The result would hold more than the daemon keeps in memory for one statement.
        public static let resultTooLarge = Code("RESULT_TOO_LARGE")
        /// The peer may not call this method.
        public static let forbidden = Code("FORBIDDEN")
        /// The caller went away and its statement was interrupted (never sent: there is no one
        /// to send it to; it shows in the log).
        public static let cancelled = Code("CANCELLED")
        /// The data directory is used by another running daemon.
        public static let dataDirectoryInUse = Code("DATA_DIRECTORY_IN_USE")
        /// A bug or an unexpected condition inside the daemon.
        public static let internalError = Code("INTERNAL_ERROR")
        /// No rebalance plan has the id given.
        public static let planNotFound = Code("PLAN_NOT_FOUND")
        /// A reload was refused: the configuration does not parse or asks for what needs a
        /// restart. The running configuration stays; the message says why.
        public static let configRefused = Code("CONFIG_REFUSED")
        /// The shard's backend cannot do what was asked (for example moving rows to or from a
        /// PostgreSQL shard); the message says what can.
        public static let unsupportedOnBackend = Code("UNSUPPORTED_ON_BACKEND")
        /// A result does not fit the wire's 64-bit integers (for example the sum of
        /// `federateCount`'s shard counts); the message names it.
        public static let resultOutOfRange = Code("RESULT_OUT_OF_RANGE")
    }

    /// What SQLite reported for a failed statement.
    public struct SQLiteFailure: Sendable, Hashable {
        public let code: Int32
        public let extendedCode: Int32
        public let message: String
    }

    /// What a PostgreSQL server reported for a failed statement.
    public struct PostgresFailure: Sendable, Hashable {
        /// The five-character SQLSTATE, for example `23505`.
        public let sqlstate: String
        public let message: String
        public let detail: String?
    }

    public let code: Code
    public let message: String
    /// Present for errors that SQLite reported.
    public let sqlite: SQLiteFailure?
    /// Present for errors that a PostgreSQL shard reported.
    public let postgres: PostgresFailure?

    public init(_ code: Code, _ message: String, sqlite: SQLiteFailure? = nil, postgres: PostgresFailure? = nil) {
        self.code = code
        self.message = message
        self.sqlite = sqlite
        self.postgres = postgres
    }

    public var description: String { "\(code): \(message)" }

    static func invalidParams(_ message: String) -> CollegeDBError {
        CollegeDBError(.invalidParams, message)
    }

    static func mappingNotFound(_ key: String) -> CollegeDBError {
        CollegeDBError(.mappingNotFound, "no mapping for key '\(key)'")
    }

    static func shardNotFound(_ shard: String) -> CollegeDBError {
        CollegeDBError(.shardNotFound, "no shard named '\(shard)'")
    }
}
