import Foundation
import NIOCore
import PostgresNIO

/// Rebalance plans in the shared catalog (`collegedb.rebalance_plan`, `rebalance_move`,
/// `draining_shard`): every daemon of the catalog reads, cancels and resumes the same plans,
/// and one at a time runs one, holding the session advisory lock ``rebalanceLock`` on a
/// connection of its own for as long as it runs.
extension PostgresCatalog {
    /// The advisory lock of the daemon that runs rebalance plans now.
    static let rebalanceLock: Int64 = 0x636f_6c6c_6562_616c  // "collebal"

    package func recordCounts() throws -> [String: Int64] {
        try run { connection in
            var counts: [String: Int64] = [:]
            let rows = try await connection.queryWhileOpen(
                "SELECT shard, count(*) FROM collegedb.record GROUP BY shard",
                logger: self.logger
            )
            for (shard, count) in try rows.decode((String, Int64).self) { counts[shard] = count }
            return counts
        }
    }

    /// Each record on `shard` with its smallest stored key (the catalog does not keep which key
    /// came first), a page of 10,000 at a time.
    package func forEachRecord(
        onShard shard: String,
        _ body: (_ record: Int64, _ key: StoredKey?) throws -> Void
    ) throws {
        var after: Int64 = 0
        while true {
            let start = after
            let page = try run { connection in
                var page: [(Int64, ByteBuffer?)] = []
                let rows = try await connection.queryWhileOpen(
                    """
                    SELECT r.id, (SELECT k.key FROM collegedb.lookup_key k WHERE k.record_id = r.id ORDER BY k.key LIMIT 1)
                    FROM collegedb.record r WHERE r.shard = \(shard) AND r.id > \(start) ORDER BY r.id LIMIT 10000
                    """,
                    logger: self.logger
                )
                for row in try rows.decode((Int64, ByteBuffer?).self) { page.append(row) }
                return page
            }
            for (record, key) in page { try body(record, key.map(storedKey)) }
            guard let last = page.last, page.count == 10_000 else { return }
            after = last.0
        }
    }

    package func records(forStoredKeys keys: [StoredKey]) throws -> [(id: Int64, shard: String)?] {
        let buffers = keys.map(Self.buffer)
        let found = try run { connection in
            var found: [ByteBuffer: (Int64, String)] = [:]
            let rows = try await connection.queryWhileOpen(
                """
                SELECT k.key, r.id, r.shard FROM collegedb.lookup_key k JOIN collegedb.record r ON r.id = k.record_id
                WHERE k.key = ANY(\(buffers))
                """,
                logger: self.logger
            )
            for (key, id, shard) in try rows.decode((ByteBuffer, Int64, String).self) { found[key] = (id, shard) }
            return found
        }
        return buffers.map { found[$0].map { (id: $0.0, shard: $0.1) } }
    }

    package func storedKeys(ofRecords records: [Int64]) throws -> [StoredKey: Int64] {
        let pairs = try run { connection in
            var pairs: [(ByteBuffer, Int64)] = []
            let rows = try await connection.queryWhileOpen(
                "SELECT key, record_id FROM collegedb.lookup_key WHERE record_id = ANY(\(records))",
                logger: self.logger
            )
            for row in try rows.decode((ByteBuffer, Int64).self) { pairs.append(row) }
            return pairs
        }
        return Dictionary(pairs.map { (storedKey($0.0), $0.1) }, uniquingKeysWith: { first, _ in first })
    }

    package func shards(ofRecords records: [Int64]) throws -> [Int64: String] {
        try run { connection in
            var shards: [Int64: String] = [:]
            let rows = try await connection.queryWhileOpen(
                "SELECT id, shard FROM collegedb.record WHERE id = ANY(\(records))",
                logger: self.logger
            )
            for (id, shard) in try rows.decode((Int64, String).self) { shards[id] = shard }
            return shards
        }
    }

    package func createPlan(
        strategy: String,
        drain: [String],
        tolerance: Double,
        moves: [RebalancePlanner.Move],
        unmappedRows: Int,
        automatic: Bool
    ) throws -> Int64 {
        let drainText = JSONArrayText.texts(drain)
        let now = MappingStore.nowMilliseconds()
        return try run { connection in
            try await self.transaction(on: connection) {
                let planID = try await Self.insertedID(
                    connection.queryWhileOpen(
                        """
                        INSERT INTO collegedb.rebalance_plan
                            (created_at, strategy, state, drain, tolerance, records, unmapped_rows, automatic)
                        VALUES (\(now), \(strategy), 'planned', \(drainText), \(tolerance), \(moves.count),
                            \(unmappedRows), \(automatic))
                        RETURNING id
                        """,
                        logger: self.logger
                    )
                )
                try await self.insertMoves(moves, planID: planID, on: connection)
                try await connection.queryWhileOpen(
                    """
                    INSERT INTO collegedb.draining_shard (shard, plan_id) SELECT unnest(\(drain)::text[]), \(planID)
                    ON CONFLICT (shard) DO UPDATE SET plan_id = excluded.plan_id
                    """,
                    logger: self.logger
                )
                return planID
            }
        }
    }

    package func appendMoves(ofPlan planID: Int64, _ moves: [RebalancePlanner.Move]) throws -> Int {
        guard !moves.isEmpty else { return 0 }
        return try run { connection in
            try await self.transaction(on: connection) {
                let added = try await self.insertMoves(moves, planID: planID, on: connection)
                try await connection.queryWhileOpen(
                    "UPDATE collegedb.rebalance_plan SET records = records + \(added) WHERE id = \(planID)",
                    logger: self.logger
                )
                return added
            }
        }
    }

    /// Inserts the moves of records the plan does not hold yet as pending moves, as three
    /// arrays per statement; returns how many it inserted.
    @discardableResult
    private func insertMoves(
        _ moves: [RebalancePlanner.Move],
        planID: Int64,
        on connection: PostgresConnection
    ) async throws -> Int {
        var added = 0
        for start in stride(from: 0, to: moves.count, by: 10_000) {
            let chunk = moves[start..<min(start + 10_000, moves.count)]
            let inserted = try await Self.firstRow(
                connection.queryWhileOpen(
                    """
                    WITH added AS (
                        INSERT INTO collegedb.rebalance_move (plan_id, record_id, from_shard, to_shard)
                        SELECT \(planID), * FROM unnest(\(chunk.map(\.record))::bigint[], \(chunk.map(\.from))::text[],
                            \(chunk.map(\.to))::text[])
                        ON CONFLICT (plan_id, record_id) DO NOTHING RETURNING 1
                    )
                    SELECT count(*) FROM added
                    """,
                    logger: logger
                ),
                as: Int64.self
            )
            added += Int(inserted ?? 0)
        }
        return added
    }

    package func planSummary(_ planID: Int64) throws -> RebalancePlanSummary {
        try run { connection in
            guard
                let (createdAt, records, unmapped) = try await Self.firstRow(
                    connection.queryWhileOpen(
                        "SELECT created_at, records, unmapped_rows FROM collegedb.rebalance_plan WHERE id = \(planID)",
                        logger: self.logger
                    ),
                    as: (Int64, Int64, Int64).self
                )
            else { throw MappingStore.planNotFound(planID) }
            var pairs: [RebalancePlanSummary.Pair] = []
            let rows = try await connection.queryWhileOpen(
                """
                SELECT from_shard, to_shard, count(*) FROM collegedb.rebalance_move WHERE plan_id = \(planID)
                GROUP BY from_shard, to_shard ORDER BY from_shard, to_shard
                """,
                logger: self.logger
            )
            for (from, to, count) in try rows.decode((String, String, Int64).self) {
                pairs.append(RebalancePlanSummary.Pair(from: from, to: to, records: Int(count)))
            }
            return RebalancePlanSummary(
                planID: planID,
                moves: Int(records),
                byPair: pairs,
                createdAt: createdAt,
                unmappedRows: Int(unmapped)
            )
        }
    }

    package func moves(
        ofPlan planID: Int64,
        limit: Int,
        after cursor: Int64?
    ) throws -> (moves: [RebalanceMove], next: Int64?) {
        let rows = try run { connection in
            guard try await self.planExists(planID, on: connection) else { throw MappingStore.planNotFound(planID) }
            var page: [(Int64, ByteBuffer?, String, String, String, String?)] = []
            let rows = try await connection.queryWhileOpen(
                """
                SELECT m.record_id,
                    (SELECT k.key FROM collegedb.lookup_key k WHERE k.record_id = m.record_id ORDER BY k.key LIMIT 1),
                    m.from_shard, m.to_shard, m.state, m.note
                FROM collegedb.rebalance_move m
                WHERE m.plan_id = \(planID) AND m.record_id > \(cursor ?? Int64.min)
                ORDER BY m.record_id LIMIT \(limit + 1)
                """,
                logger: self.logger
            )
            for row in try rows.decode((Int64, ByteBuffer?, String, String, String, String?).self) {
                page.append(row)
            }
            return page
        }
        let page = rows.prefix(limit).map { record, key, from, to, state, note in
            RebalanceMove(
                record: record,
                key: key.map { keyCodec.displayed(storedKey($0)) },
                from: from,
                to: to,
                state: state,
                note: note
            )
        }
        return (page, rows.count > limit ? page.last?.record : nil)
    }

    package func skipNotes(ofPlan planID: Int64, startingWith prefix: String) throws -> [(note: String, moves: Int)] {
        try run { connection in
            var notes: [(note: String, moves: Int)] = []
            let rows = try await connection.queryWhileOpen(
                """
                SELECT note, count(*) FROM collegedb.rebalance_move
                WHERE plan_id = \(planID) AND state = 'skipped' AND left(note, length(\(prefix))) = \(prefix)
                GROUP BY note ORDER BY min(record_id)
                """,
                logger: self.logger
            )
            for (note, moves) in try rows.decode((String, Int64).self) {
                notes.append((note, Int(clamping: moves)))
            }
            return notes
        }
    }

    package func nextPendingMoves(
        ofPlan planID: Int64,
        limit: Int
    ) throws -> (from: String, to: String, records: [Int64])? {
        try run { connection in
            guard
                let (from, to) = try await Self.firstRow(
                    connection.queryWhileOpen(
                        """
                        SELECT from_shard, to_shard FROM collegedb.rebalance_move
                        WHERE plan_id = \(planID) AND state = 'pending' ORDER BY from_shard, to_shard LIMIT 1
                        """,
                        logger: self.logger
                    ),
                    as: (String, String).self
                )
            else { return nil }
            var records: [Int64] = []
            let rows = try await connection.queryWhileOpen(
                """
                SELECT record_id FROM collegedb.rebalance_move
                WHERE plan_id = \(planID) AND state = 'pending' AND from_shard = \(from) AND to_shard = \(to)
                ORDER BY record_id LIMIT \(limit)
                """,
                logger: self.logger
            )
            for record in try rows.decode(Int64.self) { records.append(record) }
            return (from, to, records)
        }
    }

    package func pendingRecords(ofPlan planID: Int64, from shard: String, limit: Int) throws -> [Int64] {
        try run { connection in
            var records: [Int64] = []
            let rows = try await connection.queryWhileOpen(
                """
                SELECT record_id FROM collegedb.rebalance_move
                WHERE plan_id = \(planID) AND state = 'pending' AND from_shard = \(shard)
                ORDER BY record_id LIMIT \(limit)
                """,
                logger: self.logger
            )
            for record in try rows.decode(Int64.self) { records.append(record) }
            return records
        }
    }

    package func skipMoves(ofPlan planID: Int64, _ skipped: [(record: Int64, reason: String)]) throws {
        guard !skipped.isEmpty else { return }
        try run { connection in
            try await self.transaction(on: connection) {
                try await connection.queryWhileOpen(
                    """
                    UPDATE collegedb.rebalance_move m SET state = 'skipped', note = s.note
                    FROM unnest(\(skipped.map(\.record))::bigint[], \(skipped.map(\.reason))::text[]) AS s(record_id, note)
                    WHERE m.plan_id = \(planID) AND m.record_id = s.record_id
                    """,
                    logger: self.logger
                )
                try await connection.queryWhileOpen(
                    "UPDATE collegedb.rebalance_plan SET skipped = skipped + \(skipped.count) WHERE id = \(planID)",
                    logger: self.logger
                )
            }
        }
    }

    package func flipBatchMove(
        _ moveID: Int64,
        planID: Int64,
        records: [Int64],
        from: String,
        to: String,
        rows: Int
    ) throws {
        let now = MappingStore.nowMilliseconds()
        try run { connection in
            try await self.transaction(on: connection) {
                try await connection.queryWhileOpen(
                    """
                    UPDATE collegedb.record SET shard = \(to), updated_at = \(now)
                    WHERE id = ANY(\(records)) AND shard = \(from)
                    """,
                    logger: self.logger
                )
                try await connection.queryWhileOpen(
                    """
                    UPDATE collegedb.rebalance_move SET state = 'moved'
                    WHERE plan_id = \(planID) AND record_id = ANY(\(records))
                    """,
                    logger: self.logger
                )
                try await connection.queryWhileOpen(
                    """
                    UPDATE collegedb.rebalance_plan
                    SET records_moved = records_moved + \(records.count), rows_moved = rows_moved + \(rows)
                    WHERE id = \(planID)
                    """,
                    logger: self.logger
                )
                try await connection.queryWhileOpen(
                    "UPDATE collegedb.move_intent SET state = 'flipped' WHERE id = \(moveID)",
                    logger: self.logger
                )
            }
        }
    }

    package func setPlanState(_ planID: Int64, _ state: RebalanceState, rowsPerSecond: Double??) throws {
        try run { connection in
            try await self.transaction(on: connection) {
                try await connection.queryWhileOpen(
                    "UPDATE collegedb.rebalance_plan SET state = \(state.rawValue) WHERE id = \(planID)",
                    logger: self.logger
                )
                if let rowsPerSecond {
                    try await connection.queryWhileOpen(
                        "UPDATE collegedb.rebalance_plan SET rows_per_second = \(rowsPerSecond) WHERE id = \(planID)",
                        logger: self.logger
                    )
                }
                switch state {
                case .cancelled:
                    try await connection.queryWhileOpen(
                        "DELETE FROM collegedb.draining_shard WHERE plan_id = \(planID)",
                        logger: self.logger
                    )
                case .running:
                    // A resumed drain keeps its shards from new keys again.
                    try await connection.queryWhileOpen(
                        """
                        INSERT INTO collegedb.draining_shard (shard, plan_id)
                        SELECT json_array_elements_text(drain::json), id FROM collegedb.rebalance_plan
                        WHERE id = \(planID)
                        ON CONFLICT DO NOTHING
                        """,
                        logger: self.logger
                    )
                default:
                    break
                }
            }
        }
    }

    package func addRunningTime(ofPlan planID: Int64, milliseconds: Int64) throws {
        try run { connection in
            try await connection.queryWhileOpen(
                """
                UPDATE collegedb.rebalance_plan SET running_milliseconds = running_milliseconds + \(milliseconds)
                WHERE id = \(planID)
                """,
                logger: self.logger
            )
        }
    }

    package func appendPlanError(_ planID: Int64, _ message: String) throws {
        try run { connection in
            try await self.transaction(on: connection) {
                let current = try await Self.firstRow(
                    connection.queryWhileOpen(
                        "SELECT errors FROM collegedb.rebalance_plan WHERE id = \(planID) FOR UPDATE",
                        logger: self.logger
                    ),
                    as: String.self
                )
                var errors = PlanErrors.decoded(current ?? "[]")
                errors.append(message)
                try await connection.queryWhileOpen(
                    """
                    UPDATE collegedb.rebalance_plan SET errors = \(JSONArrayText.texts(Array(errors.suffix(100))))
                    WHERE id = \(planID)
                    """,
                    logger: self.logger
                )
            }
        }
    }

    package func planStatus(_ planID: Int64?) throws -> RebalanceStatus? {
        typealias Columns = (Int64, String, Int64, Int64, Int64, Int64, Int64, Double?, String, Bool)
        let found: Columns? = try run { connection in
            let rows =
                if let planID {
                    try await connection.queryWhileOpen(
                        """
                        SELECT id, state, records, records_moved, rows_moved, skipped, running_milliseconds,
                            rows_per_second, errors, automatic
                        FROM collegedb.rebalance_plan WHERE id = \(planID)
                        """,
                        logger: self.logger
                    )
                } else {
                    try await connection.queryWhileOpen(
                        """
                        SELECT id, state, records, records_moved, rows_moved, skipped, running_milliseconds,
                            rows_per_second, errors, automatic
                        FROM collegedb.rebalance_plan ORDER BY id DESC LIMIT 1
                        """,
                        logger: self.logger
                    )
                }
            if let row = try rows.first(Columns.self) { return row }
            return nil
        }
        guard
            let (id, state, records, recordsMoved, rowsMoved, skipped, milliseconds, throttle, errors, automatic) =
                found
        else {
            if let planID { throw MappingStore.planNotFound(planID) }
            return nil
        }
        return RebalanceStatus(
            planID: id,
            state: RebalanceState(rawValue: state) ?? .failed,
            records: Int(records),
            recordsMoved: Int(recordsMoved),
            rowsMoved: Int(rowsMoved),
            skipped: Int(skipped),
            runningMilliseconds: milliseconds,
            throttle: throttle,
            errors: PlanErrors.decoded(errors),
            automatic: automatic
        )
    }

    package func interruptedPlans() throws -> [Int64] {
        try run { connection in
            var plans: [Int64] = []
            let rows = try await connection.queryWhileOpen(
                "SELECT id FROM collegedb.rebalance_plan WHERE state IN ('running', 'paused') ORDER BY id",
                logger: self.logger
            )
            for plan in try rows.decode(Int64.self) { plans.append(plan) }
            return plans
        }
    }

    package func drainedShards(ofPlan planID: Int64) throws -> [String] {
        try run { connection in
            var shards: [String] = []
            let rows = try await connection.queryWhileOpen(
                """
                SELECT json_array_elements_text(drain::json) FROM collegedb.rebalance_plan WHERE id = \(planID)
                """,
                logger: self.logger
            )
            for shard in try rows.decode(String.self) { shards.append(shard) }
            return shards
        }
    }

    package func drainingShards() throws -> Set<String> {
        try run { connection in
            var shards: Set<String> = []
            let rows = try await connection.queryWhileOpen(
                "SELECT shard FROM collegedb.draining_shard",
                logger: self.logger
            )
            for shard in try rows.decode(String.self) { shards.insert(shard) }
            return shards
        }
    }

    package func stopDraining(_ shard: String) throws {
        try run { connection in
            try await connection.queryWhileOpen(
                "DELETE FROM collegedb.draining_shard WHERE shard = \(shard)",
                logger: self.logger
            )
        }
    }

    /// Takes ``rebalanceLock`` on a connection kept for the lease: nil at once when another
    /// daemon holds it. A daemon that dies or loses that connection gives the lock up with it.
    package func acquireRebalanceLease() async throws -> (any RebalanceLease)? {
        let lease = PostgresRebalanceLease()
        let logger = logger
        let connectTimeout = address.connectTimeout
        let client = client
        let held = Task {
            try await client.withConnection(leasedWithin: connectTimeout) { connection in
                let granted =
                    try await Self.firstRow(
                        connection.queryWhileOpen("SELECT pg_try_advisory_lock(\(Self.rebalanceLock))", logger: logger),
                        as: Bool.self
                    ) ?? false
                lease.granted(granted)
                guard granted else { return }
                await lease.waitForRelease()
                // A connection that broke has released the lock with its session.
                _ = try? await connection.queryWhileOpen(
                    "SELECT pg_advisory_unlock(\(Self.rebalanceLock))",
                    logger: logger
                )
            }
        }
        do {
            guard try await lease.outcome(of: held) else { return nil }
        } catch {
            throw Self.translated(error, address: address)
        }
        return lease
    }

    private func planExists(_ planID: Int64, on connection: PostgresConnection) async throws -> Bool {
        try await Self.firstRow(
            connection.queryWhileOpen("SELECT 1 FROM collegedb.rebalance_plan WHERE id = \(planID)", logger: logger),
            as: Int32.self
        ) != nil
    }
}
