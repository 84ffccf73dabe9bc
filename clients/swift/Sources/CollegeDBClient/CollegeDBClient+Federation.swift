import CollegeDBJSON

/// Federated queries: one read on every shard, merged as if one database held the rows.
extension CollegeDBClient {
    public struct FederatedRows: Sendable {
        public let rows: [Row]
        /// Rows before the cut over all shards; nil when a shard failed.
        public let total: Int64?
        /// The shards that answered.
        public let shards: [String]
        /// The shards that failed, with their errors: their rows are missing.
        public let errors: [(shard: String, error: CollegeDBClientError)]
    }

    public struct FederatedCount: Sendable {
        public let total: Int64
        /// Each shard's count, or the error it failed with.
        public let shards: [(shard: String, count: Result<Int64, CollegeDBClientError>)]
    }

    /// Runs a read on every shard; the rows are ordered by `orderBy` (a result column), then
    /// `offset` rows are skipped and at most `limit` kept.
    public func federateQuery(
        sql: String,
        bindings: [SQLValue] = [],
        orderBy: String? = nil,
        descending: Bool = false,
        limit: Int? = nil,
        offset: Int = 0
    ) async throws -> FederatedRows {
        var options: [(String, JSONValue)] = [
            ("direction", .string(descending ? "desc" : "asc")), ("offset", .integer(Int64(offset))),
        ]
        if let orderBy { options.append(("orderBy", .string(orderBy))) }
        if let limit { options.append(("limit", .integer(Int64(limit)))) }
        let result = try await call("federateQuery", .array([.string(sql), Self.bindings(bindings), .object(options)]))
        guard case .array(let rows)? = result["results"], let meta = result["meta"] else {
            throw CollegeDBClientError(.invalidResponse, "federateQuery did not return rows")
        }
        var total: Int64?
        if case .integer(let value)? = meta["total"] { total = value }
        var shards: [String] = []
        if case .array(let names)? = meta["shards"] {
            shards = names.compactMap { if case .string(let name) = $0 { name } else { nil } }
        }
        var errors: [(String, CollegeDBClientError)] = []
        if case .array(let failures)? = meta["errors"] {
            for failure in failures {
                guard case .string(let shard)? = failure["shard"], let error = failure["error"] else { continue }
                errors.append((shard, CollegeDBClientError(errorObject: error)))
            }
        }
        return FederatedRows(rows: rows.map(Row.init(json:)), total: total, shards: shards, errors: errors)
    }

    /// Runs a statement returning one integer on every shard and sums them.
    public func federateCount(sql: String, bindings: [SQLValue] = []) async throws -> FederatedCount {
        let result = try await call("federateCount", .array([.string(sql), Self.bindings(bindings)]))
        guard case .integer(let total)? = result["total"], case .array(let entries)? = result["shards"] else {
            throw CollegeDBClientError(.invalidResponse, "federateCount did not return counts")
        }
        return FederatedCount(
            total: total,
            shards: try entries.map { entry in
                guard case .string(let shard)? = entry["shard"] else {
                    throw CollegeDBClientError(.invalidResponse, "a count without a shard")
                }
                if let error = entry["error"] { return (shard, .failure(CollegeDBClientError(errorObject: error))) }
                guard case .integer(let count)? = entry["count"] else {
                    throw CollegeDBClientError(.invalidResponse, "a count that is not an integer")
                }
                return (shard, .success(count))
            }
        )
    }
}
