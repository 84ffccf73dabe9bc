import Foundation
import NIOCore
import PostgresNIO

/// The KVShardMapper half of the shared catalog, as ``MappingStore`` has it: a record is one
/// mapping with any number of lookup keys; whichever key is given, an operation acts on the
/// whole record.
extension PostgresCatalog {
    package func setMapping(key: String, shard: String, additionalKeys: [String]) throws {
        let stored = storedKey(key)
        let additional = additionalKeys.map { ($0, storedKey($0)) }
        try run { connection in
            try await self.transaction(on: connection) {
                let now = MappingStore.nowMilliseconds()
                let recordID: Int64
                if let existing = try await self.recordID(of: stored, on: connection) {
                    recordID = existing
                    try await connection.queryWhileOpen(
                        """
                        UPDATE collegedb.record SET shard = \(shard), updated_at = \(now)
                        WHERE id = \(recordID) AND shard <> \(shard)
                        """,
                        logger: self.logger
                    )
                } else {
                    recordID = try await self.insertRecord(key: key, stored: stored, shard: shard, on: connection)
                }
                for (text, stored) in additional {
                    try await self.claim(text, stored: stored, for: recordID, on: connection)
                }
            }
        }
    }

    package func importMappings(_ keys: [String], shard: String) throws {
        let stored = keys.map { ($0, storedKey($0)) }
        try run { connection in
            try await self.transaction(on: connection) {
                for (key, stored) in stored {
                    _ = try await self.insertRecord(key: key, stored: stored, shard: shard, on: connection)
                }
            }
        }
    }

    package func addLookupKeys(key: String, keys: [String]) throws {
        let stored = storedKey(key)
        let additional = keys.map { ($0, storedKey($0)) }
        try run { connection in
            try await self.transaction(on: connection) {
                guard let recordID = try await self.recordID(of: stored, on: connection) else {
                    throw CollegeDBError.mappingNotFound(key)
                }
                for (text, stored) in additional {
                    try await self.claim(text, stored: stored, for: recordID, on: connection)
                }
            }
        }
    }

    package func lookupKeys(ofKey key: String) throws -> [String] {
        let stored = storedKey(key)
        let keys = try run { connection in
            guard let recordID = try await self.recordID(of: stored, on: connection) else {
                throw CollegeDBError.mappingNotFound(key)
            }
            var keys: [ByteBuffer] = []
            let rows = try await connection.queryWhileOpen(
                "SELECT key FROM collegedb.lookup_key WHERE record_id = \(recordID) ORDER BY key",
                logger: self.logger
            )
            for key in try rows.decode(ByteBuffer.self) { keys.append(key) }
            return keys
        }
        return keys.map { keyCodec.displayed(storedKey($0)) }
    }

    @discardableResult
    package func updateMapping(key: String, shard: String) throws -> String {
        let stored = storedKey(key)
        return try run { connection in
            try await self.transaction(on: connection) {
                guard
                    let (recordID, previous) = try await Self.firstRow(
                        connection.queryWhileOpen(
                            """
                            SELECT r.id, r.shard FROM collegedb.lookup_key k JOIN collegedb.record r ON r.id = k.record_id
                            WHERE k.key = \(stored) FOR UPDATE OF r
                            """,
                            logger: self.logger
                        ),
                        as: (Int64, String).self
                    )
                else { throw CollegeDBError.mappingNotFound(key) }
                try await connection.queryWhileOpen(
                    """
                    UPDATE collegedb.record SET shard = \(shard), updated_at = \(MappingStore.nowMilliseconds())
                    WHERE id = \(recordID) AND shard <> \(shard)
                    """,
                    logger: self.logger
                )
                return previous
            }
        }
    }

    @discardableResult
    package func deleteMapping(key: String) throws -> Int {
        let stored = storedKey(key)
        return try run { connection in
            try await self.transaction(on: connection) {
                guard let recordID = try await self.recordID(of: stored, on: connection) else { return 0 }
                return try await self.deleteRecord(recordID, on: connection)
            }
        }
    }

    package func deleteRecord(id: Int64) throws {
        _ = try run { connection in try await self.deleteRecord(id, on: connection) }
    }

    package func keys(
        onShard shard: String,
        limit: Int,
        after cursor: KeyCursor?
    ) throws -> (keys: [String], next: KeyCursor?) {
        let afterRecord = cursor?.recordID ?? -1
        let afterKey = cursor.map { Self.buffer($0.key) } ?? ByteBuffer()
        let rows = try run { connection in
            var page: [(Int64, ByteBuffer)] = []
            let rows = try await connection.queryWhileOpen(
                """
                SELECT k.record_id, k.key FROM collegedb.lookup_key k JOIN collegedb.record r ON r.id = k.record_id
                WHERE r.shard = \(shard) AND (k.record_id, k.key) > (\(afterRecord), \(afterKey))
                ORDER BY k.record_id, k.key LIMIT \(limit + 1)
                """,
                logger: self.logger
            )
            for row in try rows.decode((Int64, ByteBuffer).self) { page.append(row) }
            return page
        }
        let page = rows.prefix(limit)
        let next = rows.count > limit ? page.last.map { KeyCursor(recordID: $0.0, key: storedKey($0.1)) } : nil
        return (page.map { keyCodec.displayed(storedKey($0.1)) }, next)
    }

    package func clearMappings() throws -> Int {
        try run { connection in
            try await self.transaction(on: connection) {
                let deleted = try await self.truncateRecords(on: connection)
                try await connection.queryWhileOpen(
                    "UPDATE collegedb.shard_stats SET record_count = 0, last_updated = \(MappingStore.nowMilliseconds())",
                    logger: self.logger
                )
                return deleted
            }
        }
    }

    // MARK: Helpers

    func recordID(of stored: ByteBuffer, on connection: PostgresConnection) async throws -> Int64? {
        try await Self.firstRow(
            connection.queryWhileOpen(
                "SELECT record_id FROM collegedb.lookup_key WHERE key = \(stored)",
                logger: logger
            ),
            as: Int64.self
        )
    }

    /// A new record on `shard` with `key` as its first key; `KEY_CONFLICT` when another record
    /// holds the key.
    private func insertRecord(
        key: String,
        stored: ByteBuffer,
        shard: String,
        on connection: PostgresConnection
    ) async throws -> Int64 {
        let now = MappingStore.nowMilliseconds()
        let id = try await Self.insertedID(
            connection.queryWhileOpen(
                """
                INSERT INTO collegedb.record (shard, created_at, updated_at) VALUES (\(shard), \(now), \(now))
                RETURNING id
                """,
                logger: logger
            )
        )
        try await claim(key, stored: stored, for: id, on: connection, conflict: "is already mapped")
        return id
    }

    /// Gives the key to `recordID`, unless another record holds it (`KEY_CONFLICT`).
    private func claim(
        _ key: String,
        stored: ByteBuffer,
        for recordID: Int64,
        on connection: PostgresConnection,
        conflict: String = "already belongs to another record"
    ) async throws {
        try await connection.queryWhileOpen(
            """
            INSERT INTO collegedb.lookup_key (key, record_id) VALUES (\(stored), \(recordID))
            ON CONFLICT (key) DO NOTHING
            """,
            logger: logger
        )
        guard try await self.recordID(of: stored, on: connection) == recordID else {
            throw CollegeDBError(.keyConflict, "key '\(key)' \(conflict)")
        }
    }

    /// Removes record `id` with its keys; returns how many keys it had.
    private func deleteRecord(_ id: Int64, on connection: PostgresConnection) async throws -> Int {
        let keys = try await Self.firstRow(
            connection.queryWhileOpen(
                """
                WITH gone AS (DELETE FROM collegedb.record WHERE id = \(id) RETURNING id)
                SELECT count(k.key) FROM gone LEFT JOIN collegedb.lookup_key k ON k.record_id = gone.id
                """,
                logger: logger
            ),
            as: Int64.self
        )
        return Int(keys ?? 0)
    }
}
