import Foundation
import GRDB

/// The intents of `reassignShard`: written before a move touches a shard, advanced when the
/// mapping flips, deleted when the move is done. An intent holds rowids, never a key.
extension MappingStore {
    /// Records the intent to move `recordID`'s rows (`plan`) from `from` to `to`.
    package func beginMove(recordID: Int64, from: String, to: String, plan: MovePlan) throws -> Int64 {
        let planText = String(decoding: try JSONEncoder().encode(plan), as: UTF8.self)
        return try guarded {
            try pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO move_intent (record_id, from_shard, to_shard, plan, state, created_at)
                        VALUES (?, ?, ?, ?, 'copying', ?)
                        """,
                    arguments: [recordID, from, to, planText, Self.nowMilliseconds()]
                )
                return db.lastInsertedRowID
            }
        }
    }

    /// Points the record at the move's target and marks the intent flipped, in one transaction.
    package func flipMove(_ id: Int64, recordID: Int64, to shard: String) throws {
        try guarded {
            try pool.write { db in
                try db.execute(
                    sql: "UPDATE record SET shard = ?, updated_at = ? WHERE id = ?",
                    arguments: [shard, Self.nowMilliseconds(), recordID]
                )
                try db.execute(sql: "UPDATE move_intent SET state = 'flipped' WHERE id = ?", arguments: [id])
            }
        }
    }

    /// Forgets a move that is done or undone.
    package func finishMove(_ id: Int64) throws {
        try guarded {
            try pool.write { db in try db.execute(sql: "DELETE FROM move_intent WHERE id = ?", arguments: [id]) }
        }
    }

    /// The moves a crash or a kill left unfinished, oldest first.
    package func unfinishedMoves() throws -> [MoveIntent] {
        try guarded {
            try pool.unsafeRead { db in
                try Row.fetchAll(
                    db,
                    sql: "SELECT id, record_id, from_shard, to_shard, plan, state FROM move_intent ORDER BY id"
                ).map { row in
                    MoveIntent(
                        id: try row.decode(atIndex: 0),
                        recordID: try row.decode(atIndex: 1),
                        from: try row.decode(atIndex: 2),
                        to: try row.decode(atIndex: 3),
                        plan: try JSONDecoder().decode(
                            MovePlan.self,
                            from: Data((try row.decode(String.self, atIndex: 4)).utf8)
                        ),
                        state: MoveIntent.State(rawValue: try row.decode(atIndex: 5)) ?? .copying
                    )
                }
            }
        }
    }
}

/// Which rows of which tables a move takes: for each table, the owning column and the rowids
/// of the record's rows on the source shard.
public struct MovePlan: Codable, Sendable, Hashable {
    public struct Table: Codable, Sendable, Hashable {
        public var name: String
        public var column: String
        public var sourceRowIDs: [Int64]
    }

    public var tables: [Table]
    /// For a move between PostgreSQL shards, the keys whose rows it takes (the owning columns
    /// hold them; PostgreSQL rows have no stable rowid): kept in the intent only until the move
    /// is done or undone. Nil for a move between SQLite shards.
    public var ownerKeys: [String]?
    /// For a move of several records between PostgreSQL shards, the records (they flip
    /// together). Nil for one record (the intent's) or a move between SQLite shards.
    public var records: [Int64]?

    public init(tables: [Table], ownerKeys: [String]? = nil, records: [Int64]? = nil) {
        self.tables = tables
        self.ownerKeys = ownerKeys
        self.records = records
    }

    private enum CodingKeys: String, CodingKey {
        case tables, ownerKeys, records
        /// One key, as intents written before moves took several keys say it.
        case ownerKey
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        tables = try container.decode([Table].self, forKey: .tables)
        ownerKeys =
            try container.decodeIfPresent([String].self, forKey: .ownerKeys)
            ?? container.decodeIfPresent(String.self, forKey: .ownerKey).map { [$0] }
        records = try container.decodeIfPresent([Int64].self, forKey: .records)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(tables, forKey: .tables)
        try container.encodeIfPresent(ownerKeys, forKey: .ownerKeys)
        try container.encodeIfPresent(records, forKey: .records)
    }

    public var rowCount: Int { tables.map(\.sourceRowIDs.count).reduce(0, +) }
}
