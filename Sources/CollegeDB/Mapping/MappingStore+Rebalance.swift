import Foundation
import GRDB

/// Rebalance plans in the store: each plan's moves (one per record), its progress, and the
/// shards it drains. A batch of moves flips in one transaction together with the plan's
/// progress, so what the plan says is done is exactly what the mappings say.
extension MappingStore {
    /// Exact record counts per shard, from the mappings themselves.
    package func recordCounts() throws -> [String: Int64] {
        try guarded {
            try pool.unsafeRead { db in
                Dictionary(
                    try Row.fetchAll(db, sql: "SELECT shard, count(*) FROM record GROUP BY shard")
                        .map { (try $0.decode(String.self, atIndex: 0), try $0.decode(Int64.self, atIndex: 1)) },
                    uniquingKeysWith: { first, _ in first }
                )
            }
        }
    }

    /// Calls `body` with each record on `shard` and its first stored key, in record order.
    package func forEachRecord(
        onShard shard: String,
        _ body: (_ record: Int64, _ key: StoredKey?) throws -> Void
    ) throws {
        try guarded {
            try pool.read { db in
                let cursor = try Row.fetchCursor(
                    db,
                    sql: """
                        SELECT id, key FROM record WHERE shard = ? ORDER BY id
                        """,
                    arguments: [shard]
                )
                while let row = try cursor.next() { try body(try row.decode(atIndex: 0), try row.decode(atIndex: 1)) }
            }
        }
    }

    /// The record and shard of each stored key given (nil for an unmapped one), read in one
    /// transaction.
    package func records(forStoredKeys keys: [StoredKey]) throws -> [(id: Int64, shard: String)?] {
        try guarded {
            try pool.read { db in
                let statement = try db.cachedStatement(sql: Self.recordByKeySQL)
                return try keys.map { key in
                    try Row.fetchOne(statement, arguments: [key]).map {
                        (try $0.decode(atIndex: 0), try $0.decode(atIndex: 1))
                    }
                }
            }
        }
    }

    /// Every stored key of each of `records`, mapped to its record.
    package func storedKeys(ofRecords records: [Int64]) throws -> [StoredKey: Int64] {
        try guarded {
            try pool.unsafeRead { db in
                var keys: [StoredKey: Int64] = [:]
                let rows = try Row.fetchCursor(
                    db,
                    sql: "SELECT key, record_id FROM lookup_key WHERE record_id IN (SELECT value FROM json_each(?))",
                    arguments: [JSONArrayText.integers(records)]
                )
                while let row = try rows.next() { keys[try row.decode(atIndex: 0)] = try row.decode(atIndex: 1) }
                return keys
            }
        }
    }

    /// The shard each of `records` maps to now; a deleted record is absent.
    package func shards(ofRecords records: [Int64]) throws -> [Int64: String] {
        try guarded {
            try pool.unsafeRead { db in
                Dictionary(
                    try Row.fetchAll(
                        db,
                        sql: "SELECT id, shard FROM record WHERE id IN (SELECT value FROM json_each(?))",
                        arguments: [JSONArrayText.integers(records)]
                    ).map { (try $0.decode(Int64.self, atIndex: 0), try $0.decode(String.self, atIndex: 1)) },
                    uniquingKeysWith: { first, _ in first }
                )
            }
        }
    }

    /// Persists a plan and its moves, and marks the drained shards, in one transaction.
    package func createPlan(
        strategy: String,
        drain: [String],
        tolerance: Double,
        moves: [RebalancePlanner.Move],
        unmappedRows: Int,
        automatic: Bool
    ) throws -> Int64 {
        try guarded {
            try pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO rebalance_plan
                            (created_at, strategy, state, drain, tolerance, records, unmapped_rows, automatic)
                        VALUES (?, ?, 'planned', ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        Self.nowMilliseconds(), strategy, JSONArrayText.texts(drain), tolerance, moves.count,
                        unmappedRows,
                        automatic,
                    ]
                )
                let planID = db.lastInsertedRowID
                let insert = try db.cachedStatement(
                    sql: "INSERT INTO rebalance_move (plan_id, record_id, from_shard, to_shard) VALUES (?, ?, ?, ?)"
                )
                for move in moves { try insert.execute(arguments: [planID, move.record, move.from, move.to]) }
                for shard in drain {
                    try db.execute(
                        sql:
                            "INSERT INTO draining_shard (shard, plan_id) VALUES (?, ?) ON CONFLICT DO UPDATE SET plan_id = excluded.plan_id",
                        arguments: [shard, planID]
                    )
                }
                return planID
            }
        }
    }

    /// A plan's summary: its moves per pair of shards.
    package func planSummary(_ planID: Int64) throws -> RebalancePlanSummary {
        try guarded {
            try pool.unsafeRead { db in
                guard
                    let plan = try Row.fetchOne(
                        db,
                        sql: "SELECT created_at, records, unmapped_rows FROM rebalance_plan WHERE id = ?",
                        arguments: [planID]
                    )
                else { throw Self.planNotFound(planID) }
                let pairs = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT from_shard, to_shard, count(*) FROM rebalance_move WHERE plan_id = ?
                        GROUP BY from_shard, to_shard ORDER BY from_shard, to_shard
                        """,
                    arguments: [planID]
                ).map {
                    RebalancePlanSummary.Pair(
                        from: try $0.decode(atIndex: 0),
                        to: try $0.decode(atIndex: 1),
                        records: try $0.decode(atIndex: 2)
                    )
                }
                return RebalancePlanSummary(
                    planID: planID,
                    moves: try plan.decode(atIndex: 1),
                    byPair: pairs,
                    createdAt: try plan.decode(atIndex: 0),
                    unmappedRows: try plan.decode(atIndex: 2)
                )
            }
        }
    }

    /// One page of a plan's moves in record order, after `cursor` (a record id).
    package func moves(
        ofPlan planID: Int64,
        limit: Int,
        after cursor: Int64?
    ) throws -> (
        moves: [RebalanceMove], next: Int64?
    ) {
        try guarded {
            try pool.unsafeRead { db in
                guard
                    try Bool.fetchOne(db, sql: "SELECT 1 FROM rebalance_plan WHERE id = ?", arguments: [planID]) != nil
                else { throw Self.planNotFound(planID) }
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT m.record_id, (SELECT r.key FROM record r WHERE r.id = m.record_id),
                            m.from_shard, m.to_shard, m.state, m.note
                        FROM rebalance_move m WHERE m.plan_id = ? AND m.record_id > ? ORDER BY m.record_id LIMIT ?
                        """,
                    arguments: [planID, cursor ?? Int64.min, limit + 1]
                )
                let page = try rows.prefix(limit).map { row in
                    let key: StoredKey? = try row.decode(atIndex: 1)
                    return RebalanceMove(
                        record: try row.decode(atIndex: 0),
                        key: key.map(keyCodec.displayed),
                        from: try row.decode(atIndex: 2),
                        to: try row.decode(atIndex: 3),
                        state: try row.decode(atIndex: 4),
                        note: try row.decode(atIndex: 5)
                    )
                }
                return (page, rows.count > limit ? page.last?.record : nil)
            }
        }
    }

    package func skipNotes(ofPlan planID: Int64, startingWith prefix: String) throws -> [(note: String, moves: Int)] {
        try guarded {
            try pool.unsafeRead { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT note, count(*) FROM rebalance_move
                        WHERE plan_id = ?1 AND state = 'skipped' AND substr(note, 1, length(?2)) = ?2
                        GROUP BY note ORDER BY min(record_id)
                        """,
                    arguments: [planID, prefix]
                ).map { (try $0.decode(String.self, atIndex: 0), try $0.decode(Int.self, atIndex: 1)) }
            }
        }
    }

    /// The next pending moves of a plan, all between one pair of shards: at most `limit`.
    package func nextPendingMoves(
        ofPlan planID: Int64,
        limit: Int
    ) throws -> (from: String, to: String, records: [Int64])? {
        try guarded {
            try pool.unsafeRead { db in
                guard
                    let pair = try Row.fetchOne(
                        db,
                        sql: """
                            SELECT from_shard, to_shard FROM rebalance_move WHERE plan_id = ? AND state = 'pending'
                            ORDER BY from_shard, to_shard LIMIT 1
                            """,
                        arguments: [planID]
                    )
                else { return nil }
                let records = try Int64.fetchAll(
                    db,
                    sql: """
                        SELECT record_id FROM rebalance_move
                        WHERE plan_id = ? AND state = 'pending' AND from_shard = ? AND to_shard = ?
                        ORDER BY record_id LIMIT ?
                        """,
                    arguments: [
                        planID, (try pair.decode(String.self, atIndex: 0)), (try pair.decode(String.self, atIndex: 1)),
                        limit,
                    ]
                )
                return (try pair.decode(atIndex: 0), try pair.decode(atIndex: 1), records)
            }
        }
    }

    /// Up to `limit` records a plan still has to move off `shard`, in record order.
    package func pendingRecords(ofPlan planID: Int64, from shard: String, limit: Int) throws -> [Int64] {
        try guarded {
            try pool.unsafeRead { db in
                try Int64.fetchAll(
                    db,
                    sql: """
                        SELECT record_id FROM rebalance_move
                        WHERE plan_id = ? AND state = 'pending' AND from_shard = ?
                        ORDER BY record_id LIMIT ?
                        """,
                    arguments: [planID, shard, limit]
                )
            }
        }
    }

    /// Marks moves skipped, each with its reason, and counts them in the plan's progress.
    package func skipMoves(ofPlan planID: Int64, _ skipped: [(record: Int64, reason: String)]) throws {
        guard !skipped.isEmpty else { return }
        try guarded {
            try pool.write { db in
                for (record, reason) in skipped {
                    try db.execute(
                        sql:
                            "UPDATE rebalance_move SET state = 'skipped', note = ? WHERE plan_id = ? AND record_id = ?",
                        arguments: [reason, planID, record]
                    )
                }
                try db.execute(
                    sql: "UPDATE rebalance_plan SET skipped = skipped + ? WHERE id = ?",
                    arguments: [skipped.count, planID]
                )
            }
        }
    }

    /// Records the intent to move a batch of a plan's records (`plan` holds their rows' rowids).
    func beginBatchMove(planID: Int64, records: [Int64], from: String, to: String, plan: MovePlan) throws -> Int64 {
        let planText = String(decoding: try JSONEncoder().encode(plan), as: UTF8.self)
        return try guarded {
            try pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO move_intent (record_id, from_shard, to_shard, plan, state, created_at, plan_id, record_ids)
                        VALUES (?, ?, ?, ?, 'copying', ?, ?, ?)
                        """,
                    arguments: [
                        records.first ?? 0, from, to, planText, Self.nowMilliseconds(), planID,
                        JSONArrayText.integers(records),
                    ]
                )
                return db.lastInsertedRowID
            }
        }
    }

    /// Points a batch's records at `to`, marks their moves done and the intent flipped, and
    /// adds to the plan's progress, in one transaction.
    package func flipBatchMove(
        _ moveID: Int64,
        planID: Int64,
        records: [Int64],
        from: String,
        to: String,
        rows: Int
    ) throws {
        try guarded {
            try pool.write { db in
                let ids = JSONArrayText.integers(records)
                try db.execute(
                    sql: """
                        UPDATE record SET shard = ?, updated_at = ?
                        WHERE id IN (SELECT value FROM json_each(?)) AND shard = ?
                        """,
                    arguments: [to, Self.nowMilliseconds(), ids, from]
                )
                try db.execute(
                    sql: """
                        UPDATE rebalance_move SET state = 'moved'
                        WHERE plan_id = ? AND record_id IN (SELECT value FROM json_each(?))
                        """,
                    arguments: [planID, ids]
                )
                try db.execute(
                    sql:
                        "UPDATE rebalance_plan SET records_moved = records_moved + ?, rows_moved = rows_moved + ? WHERE id = ?",
                    arguments: [records.count, rows, planID]
                )
                try db.execute(sql: "UPDATE move_intent SET state = 'flipped' WHERE id = ?", arguments: [moveID])
            }
        }
    }

    /// Sets a plan's state; `rowsPerSecond` (when given) replaces its throttle, and
    /// `runningMilliseconds` is added to the time it has run.
    package func setPlanState(_ planID: Int64, _ state: RebalanceState, rowsPerSecond: Double??) throws {
        try guarded {
            try pool.write { db in
                try db.execute(
                    sql: "UPDATE rebalance_plan SET state = ? WHERE id = ?",
                    arguments: [state.rawValue, planID]
                )
                if let rowsPerSecond {
                    try db.execute(
                        sql: "UPDATE rebalance_plan SET rows_per_second = ? WHERE id = ?",
                        arguments: [rowsPerSecond, planID]
                    )
                }
                switch state {
                case .cancelled:
                    try db.execute(sql: "DELETE FROM draining_shard WHERE plan_id = ?", arguments: [planID])
                case .running:
                    // A resumed drain keeps its shards from new keys again.
                    try db.execute(
                        sql: """
                            INSERT INTO draining_shard (shard, plan_id)
                            SELECT j.value, p.id FROM rebalance_plan p, json_each(p.drain) j WHERE p.id = ?
                            ON CONFLICT DO NOTHING
                            """,
                        arguments: [planID]
                    )
                default:
                    break
                }
            }
        }
    }

    package func addRunningTime(ofPlan planID: Int64, milliseconds: Int64) throws {
        try guarded {
            try pool.write { db in
                try db.execute(
                    sql: "UPDATE rebalance_plan SET running_milliseconds = running_milliseconds + ? WHERE id = ?",
                    arguments: [milliseconds, planID]
                )
            }
        }
    }

    package func appendMoves(ofPlan planID: Int64, _ moves: [RebalancePlanner.Move]) throws -> Int {
        guard !moves.isEmpty else { return 0 }
        return try guarded {
            try pool.write { db in
                let insert = try db.cachedStatement(
                    sql: """
                        INSERT INTO rebalance_move (plan_id, record_id, from_shard, to_shard) VALUES (?, ?, ?, ?)
                        ON CONFLICT (plan_id, record_id) DO NOTHING
                        """
                )
                var added = 0
                for move in moves {
                    try insert.execute(arguments: [planID, move.record, move.from, move.to])
                    added += db.changesCount
                }
                try db.execute(
                    sql: "UPDATE rebalance_plan SET records = records + ? WHERE id = ?",
                    arguments: [added, planID]
                )
                return added
            }
        }
    }

    package func drainedShards(ofPlan planID: Int64) throws -> [String] {
        try guarded {
            try pool.unsafeRead { db in
                try String.fetchAll(
                    db,
                    sql: "SELECT j.value FROM rebalance_plan p, json_each(p.drain) j WHERE p.id = ?",
                    arguments: [planID]
                )
            }
        }
    }

    package func acquireRebalanceLease() async throws -> (any RebalanceLease)? { PrivateRebalanceLease() }

    /// Adds an error to a plan's report (the most recent 100 are kept).
    package func appendPlanError(_ planID: Int64, _ message: String) throws {
        try guarded {
            try pool.write { db in
                let current =
                    try String.fetchOne(db, sql: "SELECT errors FROM rebalance_plan WHERE id = ?", arguments: [planID])
                    ?? "[]"
                var errors = PlanErrors.decoded(current)
                errors.append(message)
                try db.execute(
                    sql: "UPDATE rebalance_plan SET errors = ? WHERE id = ?",
                    arguments: [JSONArrayText.texts(Array(errors.suffix(100))), planID]
                )
            }
        }
    }

    /// A plan's status (the newest plan's when `planID` is nil); nil when there is no plan.
    package func planStatus(_ planID: Int64?) throws -> RebalanceStatus? {
        try guarded {
            try pool.unsafeRead { db in
                let columns = """
                    id, state, records, records_moved, rows_moved, skipped, running_milliseconds, rows_per_second, errors,
                    automatic
                    """
                let row =
                    if let planID {
                        try Row.fetchOne(
                            db,
                            sql: "SELECT \(columns) FROM rebalance_plan WHERE id = ?",
                            arguments: [planID]
                        )
                    } else {
                        try Row.fetchOne(db, sql: "SELECT \(columns) FROM rebalance_plan ORDER BY id DESC LIMIT 1")
                    }
                guard let row else {
                    if let planID { throw Self.planNotFound(planID) }
                    return nil
                }
                return RebalanceStatus(
                    planID: try row.decode(atIndex: 0),
                    state: RebalanceState(rawValue: try row.decode(atIndex: 1)) ?? .failed,
                    records: try row.decode(atIndex: 2),
                    recordsMoved: try row.decode(atIndex: 3),
                    rowsMoved: try row.decode(atIndex: 4),
                    skipped: try row.decode(atIndex: 5),
                    runningMilliseconds: try row.decode(atIndex: 6),
                    throttle: try row.decode(atIndex: 7),
                    errors: PlanErrors.decoded(try row.decode(String.self, atIndex: 8)),
                    automatic: try row.decode(atIndex: 9)
                )
            }
        }
    }

    /// The plans a stop left running or paused, oldest first.
    package func interruptedPlans() throws -> [Int64] {
        try guarded {
            try pool.unsafeRead { db in
                try Int64.fetchAll(
                    db,
                    sql: "SELECT id FROM rebalance_plan WHERE state IN ('running', 'paused') ORDER BY id"
                )
            }
        }
    }

    /// The shards drain plans keep from new keys.
    package func drainingShards() throws -> Set<String> {
        try guarded {
            try pool.unsafeRead { db in Set(try String.fetchAll(db, sql: "SELECT shard FROM draining_shard")) }
        }
    }

    /// Lets `shard` take new keys again (it was unregistered).
    package func stopDraining(_ shard: String) throws {
        try guarded {
            try pool.write { db in try db.execute(sql: "DELETE FROM draining_shard WHERE shard = ?", arguments: [shard])
            }
        }
    }

    static func planNotFound(_ planID: Int64) -> CollegeDBError {
        CollegeDBError(.planNotFound, "no rebalance plan \(planID)")
    }
}
