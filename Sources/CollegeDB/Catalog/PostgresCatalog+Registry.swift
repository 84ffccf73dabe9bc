import Foundation
import PostgresNIO

/// What the shared catalog remembers about shards, and the intents of moves in progress.
extension PostgresCatalog {
    package func shardRegistrations() throws -> [ShardRegistration] {
        try run { connection in
            var registrations: [ShardRegistration] = []
            let rows = try await connection.queryWhileOpen(
                "SELECT name, location, registered FROM collegedb.shard_registry ORDER BY position",
                logger: self.logger
            )
            for (name, location, registered) in try rows.decode((String, String?, Bool).self) {
                registrations.append(.init(name: name, path: location, registered: registered))
            }
            return registrations
        }
    }

    package func recordRegistration(_ registration: ShardRegistration) throws {
        try run { connection in
            try await connection.queryWhileOpen(
                """
                INSERT INTO collegedb.shard_registry (name, location, registered, position)
                VALUES (\(registration.name), \(registration.path), \(registration.registered),
                    (SELECT coalesce(max(position), 0) + 1 FROM collegedb.shard_registry))
                ON CONFLICT (name) DO UPDATE SET location = excluded.location, registered = excluded.registered
                """,
                logger: self.logger
            )
        }
    }

    package func forgetRegistration(of name: String) throws {
        try run { connection in
            try await connection.queryWhileOpen(
                "DELETE FROM collegedb.shard_registry WHERE name = \(name)",
                logger: self.logger
            )
        }
    }

    package func recordCount(onShard shard: String) throws -> Int64 {
        try run { connection in
            try await Self.firstRow(
                connection.queryWhileOpen(
                    "SELECT count(*) FROM collegedb.record WHERE shard = \(shard)",
                    logger: self.logger
                ),
                as: Int64.self
            ) ?? 0
        }
    }

    package func adjustRecordCount(onShard shard: String, to count: Int64?, by delta: Int64) throws {
        let now = MappingStore.nowMilliseconds()
        let ceiling = RecordCountBounds.ceiling(adding: delta)
        try run { connection in
            try await connection.queryWhileOpen(
                """
                INSERT INTO collegedb.shard_stats (shard, record_count, last_updated)
                VALUES (
                    \(shard),
                    greatest(least(greatest(coalesce(\(count), 0), 0), \(ceiling)) + \(delta), 0),
                    \(now)
                )
                ON CONFLICT (shard) DO UPDATE
                SET record_count = greatest(
                        least(
                            greatest(coalesce(\(count), collegedb.shard_stats.record_count), 0),
                            \(ceiling)
                        ) + \(delta),
                        0
                    ),
                    last_updated = excluded.last_updated
                """,
                logger: self.logger
            )
        }
    }

    /// Nothing: each daemon's query and error counts are its own since its start.
    package func savedMetrics() throws -> [String: (queries: Int, errors: Int)] { [:] }

    /// Nothing: each daemon's query and error counts are its own since its start.
    package func saveMetrics(_ metrics: [String: (queries: Int, errors: Int)]) throws {}

    package func beginMove(recordID: Int64, from: String, to: String, plan: MovePlan) throws -> Int64 {
        let planText = String(decoding: try JSONEncoder().encode(plan), as: UTF8.self)
        let now = MappingStore.nowMilliseconds()
        return try run { connection in
            try await Self.insertedID(
                connection.queryWhileOpen(
                    """
                    INSERT INTO collegedb.move_intent (record_id, from_shard, to_shard, plan, state, created_at)
                    VALUES (\(recordID), \(from), \(to), \(planText), 'copying', \(now)) RETURNING id
                    """,
                    logger: self.logger
                )
            )
        }
    }

    package func flipMove(_ id: Int64, recordID: Int64, to shard: String) throws {
        let now = MappingStore.nowMilliseconds()
        try run { connection in
            try await self.transaction(on: connection) {
                try await connection.queryWhileOpen(
                    "UPDATE collegedb.record SET shard = \(shard), updated_at = \(now) WHERE id = \(recordID)",
                    logger: self.logger
                )
                try await connection.queryWhileOpen(
                    "UPDATE collegedb.move_intent SET state = 'flipped' WHERE id = \(id)",
                    logger: self.logger
                )
            }
        }
    }

    package func finishMove(_ id: Int64) throws {
        try run { connection in
            try await connection.queryWhileOpen(
                "DELETE FROM collegedb.move_intent WHERE id = \(id)",
                logger: self.logger
            )
        }
    }

    package func unfinishedMoves() throws -> [MoveIntent] {
        let rows = try run { connection in
            var intents: [(Int64, Int64, String, String, String, String)] = []
            let rows = try await connection.queryWhileOpen(
                "SELECT id, record_id, from_shard, to_shard, plan, state FROM collegedb.move_intent ORDER BY id",
                logger: self.logger
            )
            for row in try rows.decode((Int64, Int64, String, String, String, String).self) {
                intents.append(row)
            }
            return intents
        }
        return try rows.map { id, recordID, from, to, plan, state in
            MoveIntent(
                id: id,
                recordID: recordID,
                from: from,
                to: to,
                plan: try JSONDecoder().decode(MovePlan.self, from: Data(plan.utf8)),
                state: MoveIntent.State(rawValue: state) ?? .copying
            )
        }
    }
}
