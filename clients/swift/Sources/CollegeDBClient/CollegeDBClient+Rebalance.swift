import CollegeDBJSON

/// Rebalancing: analysis, plans, and the background job that moves records between shards.
extension CollegeDBClient {
    public struct ShardDistribution: Decodable, Sendable, Hashable {
        public struct Shard: Decodable, Sendable, Hashable {
            public let shard: String
            public let records: Int64
            /// Rows of the owning tables; nil when the shard did not answer.
            public let rows: Int64?
            public let sizeBytes: Int64?
            /// Whether a drain plan keeps the shard from new keys.
            public let draining: Bool
        }

        public let shards: [Shard]
        public let mean: Double
        /// nil when no shard takes new keys.
        public let maxOverMean: Double?
        public let balanced: Bool
        public let tolerance: Double
    }

    public struct RebalancePlan: Decodable, Sendable, Hashable {
        public struct Pair: Decodable, Sendable, Hashable {
            public let from: String
            public let to: String
            public let records: Int
        }

        public let planId: Int64
        public let moves: Int
        public let byPair: [Pair]
        public let createdAt: Int64
        /// Rows whose key has no mapping: reported, never moved or deleted.
        public let unmappedRows: Int
        /// Rows whose primary key is already taken on the shard they would move to; nil when
        /// the daemon could not look (a shard that did not answer: ask again with a dry run).
        public let conflicts: [KeyConflict]?
    }

    /// Rows of one table whose primary keys are already taken on the shards they would move
    /// to: such rows are never overwritten, so their records do not move and the plan ends
    /// `failed`. Key them with `collegedb_id()` to avoid it.
    public struct KeyConflict: Decodable, Sendable, Hashable {
        public let table: String
        /// The primary key's column.
        public let column: String
        public let rows: Int
    }

    public struct RebalanceMovesPage: Decodable, Sendable, Hashable {
        public struct Move: Decodable, Sendable, Hashable {
            public let record: Int64
            /// The record's key (its digest when the daemon hashes keys).
            public let key: String?
            public let from: String
            public let to: String
            /// `pending`, `moved` or `skipped`.
            public let state: String
            /// Why a move was skipped.
            public let note: String?
        }

        public let moves: [Move]
        /// Pass it back for the next page; nil after the last.
        public let cursor: String?
    }

    public struct RebalanceStatus: Decodable, Sendable, Hashable {
        public let planId: Int64
        /// `planned`, `running`, `paused`, `cancelled`, `done` or `failed`.
        public let state: String
        public let records: Int
        public let recordsMoved: Int
        public let rowsMoved: Int
        public let skipped: Int
        public let rowsPerSecond: Double
        public let etaSeconds: Double?
        /// The throttle in force, in rows per second.
        public let throttle: Double?
        public let errors: [String]
        /// Whether the daemon planned it by itself (`autoRebalance` in its config).
        public let automatic: Bool
    }

    /// What running a plan would do now (`executeRebalance` with `dryRun`).
    public struct RebalanceDryRun: Decodable, Sendable, Hashable {
        public let records: Int
        public let rows: Int
        public let skipped: Int
        /// Rows whose primary key is already taken on the shard they would move to.
        public let conflicts: [KeyConflict]
    }

    public func analyzeShardDistribution(tolerance: Double = 1.1) async throws -> ShardDistribution {
        try await decoded(call("analyzeShardDistribution", .array([.double(tolerance)])))
    }

    /// Plans and persists the fewest moves that rebalance the shards, or empty `drain`.
    public func generateRebalancePlan(
        maxMoves: Int? = nil,
        drain: [String] = [],
        tolerance: Double = 1.1
    ) async throws -> RebalancePlan {
        var options: [(String, JSONValue)] = [
            ("drain", .array(drain.map(JSONValue.string))), ("tolerance", .double(tolerance)),
        ]
        if let maxMoves { options.append(("maxMoves", .integer(Int64(maxMoves)))) }
        return try await decoded(call("generateRebalancePlan", .array([.object(options)])))
    }

    public func listRebalanceMoves(
        planId: Int64,
        limit: Int = 100,
        cursor: String? = nil
    ) async throws
        -> RebalanceMovesPage
    {
        try await decoded(
            call(
                "listRebalanceMoves",
                .array([.integer(planId), .integer(Int64(limit)), cursor.map(JSONValue.string) ?? .null])
            )
        )
    }

    /// Starts a plan's job; returns at once with its status.
    @discardableResult
    public func executeRebalance(planId: Int64, rowsPerSecond: Double? = nil) async throws -> RebalanceStatus {
        let options: JSONValue = .object(rowsPerSecond.map { [("rowsPerSecond", .double($0))] } ?? [])
        return try await decoded(call("executeRebalance", .array([.integer(planId), options])))
    }

    /// What running a plan would do now; changes nothing.
    public func rebalanceDryRun(planId: Int64) async throws -> RebalanceDryRun {
        struct Answer: Decodable { let dryRun: RebalanceDryRun }
        let answer: Answer = try await decoded(
            call("executeRebalance", .array([.integer(planId), .object([("dryRun", .bool(true))])]))
        )
        return answer.dryRun
    }

    /// A plan's status, or the newest plan's; nil when there is no plan.
    public func getRebalanceStatus(planId: Int64? = nil) async throws -> RebalanceStatus? {
        let result = try await call("getRebalanceStatus", .array([planId.map(JSONValue.integer) ?? .null]))
        return result == .null ? nil : try decoded(result)
    }

    /// Stops a plan after the batches under way.
    @discardableResult
    public func cancelRebalance(planId: Int64) async throws -> RebalanceStatus {
        try await decoded(call("cancelRebalance", .array([.integer(planId)])))
    }
}
