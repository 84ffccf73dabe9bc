import Foundation

/// Federated queries: one read on every shard, the rows merged as if one database held them.
extension CollegeDB {
    /// Why a federated call refuses a statement that writes.
    static let readsOnlyMessage = "sql: federated calls run reads only; use runAllShards for a write"

    /// The result column that carries each shard's row count before the cut.
    static let federatedTotalColumn = "_collegedb_federated_total"

    /// Runs the read `statement` on every shard and merges the rows. Each shard gets the
    /// ordering and `LIMIT offset+limit` pushed down (the order-by column is checked against
    /// the statement's result columns and quoted, never pasted), the sorted streams are merged
    /// k-way in SQLite's order, and then cut; so memory is bounded by shards × (offset +
    /// limit), not by the table. A shard that fails is reported in `errors`, not dropped
    /// silently; when every shard fails, the first error is thrown.
    /// - Throws: `INVALID_PARAMS` for a write, a second statement, or an `orderBy` that is not
    ///   a result column.
    public func federateQuery(
        _ statement: SQLStatement,
        options: FederationOptions = FederationOptions(),
        limits: QueryLimits = QueryLimits()
    ) async throws -> FederatedResult {
        guard options.offset >= 0, (options.limit ?? 0) >= 0 else {
            throw CollegeDBError.invalidParams("limit and offset: must be >= 0")
        }
        let description = try await describeOnAnyShard(statement.sql)
        guard description.readOnly else { throw CollegeDBError.invalidParams(Self.readsOnlyMessage) }
        var orderColumn: Int?
        if let orderBy = options.orderBy {
            guard let index = description.columns.firstIndex(of: orderBy) else {
                throw CollegeDBError.invalidParams(
                    "orderBy: '\(orderBy)' is not a result column of the statement (its columns: \(description.columns.joined(separator: ", ")))"
                )
            }
            orderColumn = index
        }
        // offset + limit rows per shard at most; a sum past Int's range is refused, not trapped.
        let keep = try options.limit.map { limit in
            let (sum, overflow) = options.offset.addingReportingOverflow(limit)
            guard !overflow else { throw CollegeDBError.invalidParams("offset + limit: too large") }
            return sum
        }
        let answers = try await executeOnAllShards(
            { shard in
                var sql = "SELECT *, count(*) OVER () AS \(Self.federatedTotalColumn.quotedIdentifier) FROM (\n"
                sql += Self.withoutTrailingSemicolons(statement.sql) + "\n) AS _collegedb_federated"
                if let orderBy = options.orderBy {
                    // SQLite orders text by bytes, as the merge does; PostgreSQL by the
                    // column's collation (a collation on a number would be an error there).
                    let collation = shard.backendKind == .sqlite ? " COLLATE BINARY" : ""
                    sql += " ORDER BY \(orderBy.quotedIdentifier)\(collation) \(options.descending ? "DESC" : "ASC")"
                }
                if let keep { sql += " LIMIT \(max(keep, 1))" }
                return SQLStatement(sql: sql, bindings: statement.bindings)
            },
            readingOnly: true,
            limits: limits
        )
        var streams: [[[SQLValue]]] = []
        var result = FederatedResult(
            columns: description.columns,
            rows: [],
            total: 0,
            shards: [],
            errors: [],
            durationMilliseconds: 0
        )
        for answer in answers {
            switch answer.outcome {
            case .success(let rows) where Array(rows.columns.dropLast()) != description.columns:
                // One table, another shape on this shard (schemas drift): its rows cannot merge.
                result.errors.append(
                    (
                        answer.shard,
                        CollegeDBError.invalidParams(
                            "sql: on this shard the statement returns the columns "
                                + "(\(rows.columns.dropLast().joined(separator: ", "))), not those of the others "
                                + "(\(description.columns.joined(separator: ", "))); its rows are left out"
                        )
                    )
                )
                result.total = nil
            case .success(let rows):
                result.shards.append(answer.shard)
                result.durationMilliseconds = max(result.durationMilliseconds, rows.durationMilliseconds)
                if case .integer(let count)? = rows.rows.first?.last, let total = result.total {
                    // Row counts cannot reach Int's range, but a sum is never trusted to.
                    let (sum, overflow) = total.addingReportingOverflow(Int(count))
                    result.total = overflow ? nil : sum
                }
                streams.append(rows.rows.map { Array($0.dropLast()) })
            case .failure(let error):
                result.errors.append((answer.shard, error))
                result.total = nil
            }
        }
        if result.shards.isEmpty, let first = result.errors.first { throw first.error }
        let merged =
            orderColumn.map { Self.merge(streams, column: $0, descending: options.descending, keep: keep) }
            ?? streams.flatMap { $0 }
        result.rows = Array(merged.dropFirst(options.offset).prefix(options.limit ?? Int.max))
        return result
    }

    /// Runs the read `statement` on every shard; it must return one integer, and the integers
    /// are summed.
    /// - Throws: `INVALID_PARAMS` for a statement that writes (checked on each shard before any
    ///   row changes); `RESULT_OUT_OF_RANGE` when the sum does not fit a 64-bit integer.
    public func federateCount(
        _ statement: SQLStatement,
        limits: QueryLimits = QueryLimits()
    ) async throws
        -> FederatedCount
    {
        let description = try await describeOnAnyShard(statement.sql)
        guard description.readOnly else { throw CollegeDBError.invalidParams(Self.readsOnlyMessage) }
        let answers = try await executeOnAllShards({ _ in statement }, rowLimit: 1, readingOnly: true, limits: limits)
        let entries = answers.map { answer in
            FederatedCount.Entry(
                shard: answer.shard,
                count: answer.outcome.flatMap { result in
                    guard let row = result.rows.first, row.count == 1, case .integer(let count) = row[0] else {
                        return .failure(
                            CollegeDBError.invalidParams(
                                "sql: must return one integer on each shard (one row, one column)"
                            )
                        )
                    }
                    return .success(count)
                }
            )
        }
        var total: Int64 = 0
        for case .success(let count) in entries.map(\.count) {
            let (sum, overflow) = total.addingReportingOverflow(count)
            guard !overflow else {
                throw CollegeDBError(
                    .resultOutOfRange,
                    "federateCount: the sum of the shards' counts does not fit a 64-bit integer; "
                        + "ask each shard with firstShard"
                )
            }
            total = sum
        }
        return FederatedCount(total: total, shards: entries)
    }

    /// Compiles `sql` on the first shard that can (one may lack a table the others have), to
    /// learn its columns and whether it reads; when none can, throws the first shard's error.
    /// How many shards a federated call tries to compile its statement on before it gives up
    /// with the first one's error: 8.
    static let describeAttempts = 8

    private func describeOnAnyShard(_ sql: String) async throws -> StatementDescription {
        let shards = coordinator.registry.shards
        guard !shards.isEmpty else { throw CollegeDBError(.noShards, "no shard is configured") }
        var firstError: (any Error)?
        // A few shards at most: with 100,000 shards lacking the table, not one open each.
        for shard in shards.prefix(Self.describeAttempts) {
            do {
                return try await shard.describe(sql)
            } catch {
                firstError = firstError ?? error
            }
        }
        throw firstError ?? CollegeDBError(.noShards, "no shard could compile the statement")
    }

    /// Merges rows that each shard sorted by `column`, keeping at most `keep`; ties keep shard
    /// order.
    static func merge(_ streams: [[[SQLValue]]], column: Int, descending: Bool, keep: Int?) -> [[SQLValue]] {
        var positions = [Int](repeating: 0, count: streams.count)
        var merged: [[SQLValue]] = []
        let wanted = keep ?? streams.map(\.count).reduce(0, +)
        merged.reserveCapacity(min(wanted, streams.map(\.count).reduce(0, +)))
        while merged.count < wanted {
            var best: Int?
            for stream in streams.indices where positions[stream] < streams[stream].count {
                guard let current = best else {
                    best = stream
                    continue
                }
                let order = SQLiteOrder.compare(
                    streams[stream][positions[stream]][column],
                    streams[current][positions[current]][column]
                )
                if descending ? order > 0 : order < 0 { best = stream }
            }
            guard let chosen = best else { break }
            merged.append(streams[chosen][positions[chosen]])
            positions[chosen] += 1
        }
        return merged
    }

    /// The statement text without the semicolons and blanks that may end it, so that it can be
    /// wrapped in a subquery.
    static func withoutTrailingSemicolons(_ sql: String) -> String {
        var text = Substring(sql)
        while let last = text.last, last == ";" || last.isWhitespace { text = text.dropLast() }
        return String(text)
    }
}
