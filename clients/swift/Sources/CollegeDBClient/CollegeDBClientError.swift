import CollegeDBJSON

/// A failed call: an error the daemon answered with (its `data.code` as `code`), or a transport
/// failure (`CONNECTION_FAILED`, `CONNECTION_LOST`, `TIMEOUT`, `INVALID_RESPONSE`).
public struct CollegeDBClientError: Error, Sendable, CustomStringConvertible {
    /// The stable string code; compare with the constants, not the message.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let parseError = Code(rawValue: "PARSE_ERROR")
        public static let invalidRequest = Code(rawValue: "INVALID_REQUEST")
        public static let methodNotFound = Code(rawValue: "METHOD_NOT_FOUND")
        public static let invalidParams = Code(rawValue: "INVALID_PARAMS")
        public static let internalError = Code(rawValue: "INTERNAL_ERROR")
        public static let shardNotFound = Code(rawValue: "SHARD_NOT_FOUND")
        public static let mappingNotFound = Code(rawValue: "MAPPING_NOT_FOUND")
        public static let queryFailed = Code(rawValue: "QUERY_FAILED")
        public static let invalidTableName = Code(rawValue: "INVALID_TABLE_NAME")
        public static let shardNotEmpty = Code(rawValue: "SHARD_NOT_EMPTY")
        public static let shardUnavailable = Code(rawValue: "SHARD_UNAVAILABLE")
        public static let shardExists = Code(rawValue: "SHARD_EXISTS")
        public static let keyConflict = Code(rawValue: "KEY_CONFLICT")
        public static let noShards = Code(rawValue: "NO_SHARDS")
        public static let flushDisabled = Code(rawValue: "FLUSH_DISABLED")
        public static let requestTooLarge = Code(rawValue: "REQUEST_TOO_LARGE")
        public static let storageFull = Code(rawValue: "STORAGE_FULL")
        /// A move or an adoption holds what the call needs; try again shortly.
        public static let migrationInProgress = Code(rawValue: "MIGRATION_IN_PROGRESS")
        /// The daemon could not read or write its mapping store.
        public static let mappingStoreFailed = Code(rawValue: "MAPPING_STORE_FAILED")
        /// The daemon was busy and its line of waiting calls full; try again later.
        public static let overloaded = Code(rawValue: "OVERLOADED")
        /// The statement is of a kind the daemon does not run for clients; the message says
        /// what to use instead.
        public static let statementRefused = Code(rawValue: "STATEMENT_REFUSED")
        /// The statement ran past its time limit and was interrupted; nothing it wrote remains.
        public static let statementTimeout = Code(rawValue: "STATEMENT_TIMEOUT")
        /// The result would hold more than the daemon keeps in memory for one statement.
        public static let resultTooLarge = Code(rawValue: "RESULT_TOO_LARGE")
        /// No rebalance plan has the id given.
        public static let planNotFound = Code(rawValue: "PLAN_NOT_FOUND")
        /// A `reload` was refused; the running configuration stays and the message says why.
        public static let configRefused = Code(rawValue: "CONFIG_REFUSED")
        /// The shard's backend cannot do what was asked (moving rows of a PostgreSQL shard).
        public static let unsupportedOnBackend = Code(rawValue: "UNSUPPORTED_ON_BACKEND")
        /// A result does not fit a 64-bit integer (the sum of `federateCount`'s counts).
        public static let resultOutOfRange = Code(rawValue: "RESULT_OUT_OF_RANGE")
        /// This peer may not call the method (or use the daemon at all).
        public static let forbidden = Code(rawValue: "FORBIDDEN")
        /// The daemon's socket could not be reached.
        public static let connectionFailed = Code(rawValue: "CONNECTION_FAILED")
        /// The connection closed after the request was sent: it may or may not have run.
        public static let connectionLost = Code(rawValue: "CONNECTION_LOST")
        /// No answer within the call's timeout: the request may or may not have run.
        public static let timeout = Code(rawValue: "TIMEOUT")
        /// The daemon's answer was not a JSON-RPC response.
        public static let invalidResponse = Code(rawValue: "INVALID_RESPONSE")
    }

    /// What SQLite reported, for `QUERY_FAILED`.
    public struct SQLiteFailure: Sendable, Hashable {
        public let code: Int
        public let extendedCode: Int
        public let message: String
    }

    public let code: Code
    public let message: String
    /// The JSON-RPC error code, for errors the daemon answered with.
    public let rpcCode: Int?
    public let sqlite: SQLiteFailure?

    init(_ code: Code, _ message: String, rpcCode: Int? = nil, sqlite: SQLiteFailure? = nil) {
        self.code = code
        self.message = message
        self.rpcCode = rpcCode
        self.sqlite = sqlite
    }

    /// The error of a JSON-RPC error object.
    init(errorObject: JSONValue) {
        var rpcCode: Int?
        if case .integer(let number)? = errorObject["code"] { rpcCode = Int(number) }
        var message = "unknown error"
        if case .string(let text)? = errorObject["message"] { message = text }
        let data = errorObject["data"]
        var code: Code
        if case .string(let text)? = data?["code"] {
            code = Code(rawValue: text)
        } else {
            switch rpcCode {
            case -32700: code = .parseError
            case -32600: code = .invalidRequest
            case -32601: code = .methodNotFound
            case -32602: code = .invalidParams
            default: code = .internalError
            }
        }
        var sqlite: SQLiteFailure?
        if let failure = data?["sqlite"], case .integer(let primary)? = failure["code"],
            case .integer(let extended)? = failure["extendedCode"], case .string(let text)? = failure["message"]
        {
            sqlite = SQLiteFailure(code: Int(primary), extendedCode: Int(extended), message: text)
        }
        self.init(code, message, rpcCode: rpcCode, sqlite: sqlite)
    }

    public var description: String { "\(code): \(message)" }
}
