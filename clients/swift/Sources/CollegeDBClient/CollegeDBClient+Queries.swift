import CollegeDBJSON

extension CollegeDBClient {
    /// Runs a statement on the key's shard (allocating an unmapped key).
    ///
    /// - Parameters:
    ///   - key: The lookup key that routes the call.
    ///   - sql: One SQL statement.
    ///   - bindings: Its positional values. The default is none.
    /// - Returns: The changes and the last row id.
    /// - Throws: ``CollegeDBClientError``, such as `QUERY_FAILED` with SQLite's codes.
    @discardableResult
    public func run(key: String, sql: String, bindings: [SQLValue] = []) async throws -> QueryResult {
        try QueryResult(json: try await call("run", .array([.string(key), .string(sql), Self.bindings(bindings)])))
    }

    /// Runs a statement on the key's shard and returns every row.
    ///
    /// - Parameters:
    ///   - key: The lookup key that routes the call.
    ///   - sql: One SQL statement.
    ///   - bindings: Its positional values. The default is none.
    /// - Returns: The rows and the changes.
    /// - Throws: ``CollegeDBClientError``.
    public func all(key: String, sql: String, bindings: [SQLValue] = []) async throws -> QueryResult {
        try QueryResult(json: try await call("all", .array([.string(key), .string(sql), Self.bindings(bindings)])))
    }

    /// The first row of a statement on the key's shard, or nil.
    ///
    /// - Parameters:
    ///   - key: The lookup key that routes the call.
    ///   - sql: One SQL statement.
    ///   - bindings: Its positional values. The default is none.
    /// - Returns: The first row, or nil when there is none.
    /// - Throws: ``CollegeDBClientError``.
    public func first(key: String, sql: String, bindings: [SQLValue] = []) async throws -> Row? {
        let result = try await call("first", .array([.string(key), .string(sql), Self.bindings(bindings)]))
        return result == .null ? nil : Row(json: result)
    }

    /// Runs statements on the key's shard in one transaction: all commit or none does.
    public func batch(key: String, _ statements: [(sql: String, bindings: [SQLValue])]) async throws -> [QueryResult] {
        let list = JSONValue.array(
            statements.map { .object([("sql", .string($0.sql)), ("bindings", Self.bindings($0.bindings))]) }
        )
        guard case .array(let results) = try await call("batch", .array([.string(key), list])) else {
            throw CollegeDBClientError(.invalidResponse, "batch did not return an array")
        }
        return try results.map(QueryResult.init(json:))
    }

    /// Runs a statement on the named shard (`runShard`, or `allShard` for rows).
    public func runShard(shard: String, sql: String, bindings: [SQLValue] = []) async throws -> QueryResult {
        try QueryResult(
            json: try await call("runShard", .array([.string(shard), .string(sql), Self.bindings(bindings)]))
        )
    }

    public func allShard(shard: String, sql: String, bindings: [SQLValue] = []) async throws -> QueryResult {
        try QueryResult(
            json: try await call("allShard", .array([.string(shard), .string(sql), Self.bindings(bindings)]))
        )
    }

    public func firstShard(shard: String, sql: String, bindings: [SQLValue] = []) async throws -> Row? {
        let result = try await call("firstShard", .array([.string(shard), .string(sql), Self.bindings(bindings)]))
        return result == .null ? nil : Row(json: result)
    }

    /// Runs a statement on every shard (`runAllShards`, or `allAllShards` for rows), at most
    /// `batchSize` at once; one entry per shard, in shard order.
    public func runAllShards(
        sql: String,
        bindings: [SQLValue] = [],
        batchSize: Int = 50
    ) async throws -> [FanOutEntry] {
        try await queryFanOut("runAllShards", sql: sql, bindings: bindings, batchSize: batchSize)
    }

    public func allAllShards(
        sql: String,
        bindings: [SQLValue] = [],
        batchSize: Int = 50
    ) async throws -> [FanOutEntry] {
        try await queryFanOut("allAllShards", sql: sql, bindings: bindings, batchSize: batchSize)
    }

    /// Each shard's first row of a statement (nil when it has none), or the error that shard
    /// alone failed with; in shard order.
    public func firstAllShards(
        sql: String,
        bindings: [SQLValue] = [],
        batchSize: Int = 50
    ) async throws -> [(shard: String, outcome: Result<Row?, CollegeDBClientError>)] {
        try await fanOut("firstAllShards", sql: sql, bindings: bindings, batchSize: batchSize) { entry in
            let row = entry["row"] ?? .null
            return row == .null ? nil : Row(json: row)
        }
    }

    /// A fan-out whose entries are query results.
    private func queryFanOut(
        _ method: String,
        sql: String,
        bindings: [SQLValue],
        batchSize: Int
    ) async throws
        -> [FanOutEntry]
    {
        try await fanOut(method, sql: sql, bindings: bindings, batchSize: batchSize) { try QueryResult(json: $0) }
            .map { FanOutEntry(shard: $0.shard, outcome: $0.outcome) }
    }

    /// Calls a fan-out method and reads each entry: its shard, and `success` applied to it or
    /// the error that shard alone failed with.
    private func fanOut<Success>(
        _ method: String,
        sql: String,
        bindings: [SQLValue],
        batchSize: Int,
        success: (JSONValue) throws -> Success
    ) async throws -> [(shard: String, outcome: Result<Success, CollegeDBClientError>)] {
        let params = JSONValue.array([.string(sql), Self.bindings(bindings), .integer(Int64(batchSize))])
        guard case .array(let entries) = try await call(method, params) else {
            throw CollegeDBClientError(.invalidResponse, "\(method) did not return an array")
        }
        return try entries.map { entry in
            guard case .string(let shard)? = entry["shard"] else {
                throw CollegeDBClientError(.invalidResponse, "a fan-out entry without a shard")
            }
            if let error = entry["error"] { return (shard, .failure(CollegeDBClientError(errorObject: error))) }
            return (shard, .success(try success(entry)))
        }
    }

    static func bindings(_ values: [SQLValue]) -> JSONValue { .array(values.map(\.json)) }
}
