import Foundation
import GRDB

/// The KVShardMapper half of the store: a record is one mapping with any number of lookup keys;
/// whichever key is given, an operation acts on the whole record.
extension MappingStore {
    /// Maps `key` (and `additionalKeys`) to `shard`: a new record, or the key's record moved.
    /// A key that belongs to another record is a `KEY_CONFLICT`, never silently taken over.
    package func setMapping(key: String, shard: String, additionalKeys: [String]) throws {
        try guarded {
            try pool.write { db in
                let now = Self.nowMilliseconds()
                let recordID: Int64
                if let existing = try self.recordID(ofKey: key, in: db) {
                    recordID = existing
                    try db.execute(
                        sql: "UPDATE record SET shard = ?, updated_at = ? WHERE id = ? AND shard <> ?",
                        arguments: [shard, now, recordID, shard]
                    )
                } else {
                    try db.execute(
                        sql: Self.insertRecordSQL,
                        arguments: [shard, now, now, keyCodec.storedValue(for: key)]
                    )
                    recordID = db.lastInsertedRowID
                }
                for additional in additionalKeys { try claim(additional, for: recordID, in: db) }
            }
        }
    }

    /// Maps each of `keys` to `shard` as a record of its own, all in one transaction: the way to
    /// load many existing keys at once. A key that is already mapped is a `KEY_CONFLICT`, and
    /// then nothing is imported.
    package func importMappings(_ keys: [String], shard: String) throws {
        try guarded {
            try pool.write { db in
                let now = Self.nowMilliseconds()
                let recordOfKey = try db.cachedStatement(sql: Self.recordIDByKeySQL)
                let insertRecord = try db.cachedStatement(sql: Self.insertRecordSQL)
                for key in keys {
                    let stored = keyCodec.storedValue(for: key)
                    guard try Int64.fetchOne(recordOfKey, arguments: [stored]) == nil else {
                        throw CollegeDBError(.keyConflict, "key '\(key)' is already mapped")
                    }
                    try insertRecord.execute(arguments: [shard, now, now, stored])
                }
            }
        }
    }

    /// Adds `keys` to the record of `key`; `MAPPING_NOT_FOUND` when `key` is unmapped.
    package func addLookupKeys(key: String, keys: [String]) throws {
        try guarded {
            try pool.write { db in
                guard let recordID = try recordID(ofKey: key, in: db) else { throw CollegeDBError.mappingNotFound(key) }
                for additional in keys { try claim(additional, for: recordID, in: db) }
            }
        }
    }

    /// Every key of the record of `key`, as stored keys are shown (digests when hashed).
    package func lookupKeys(ofKey key: String) throws -> [String] {
        try guarded {
            try pool.unsafeRead { db in
                guard let recordID = try recordID(ofKey: key, in: db) else { throw CollegeDBError.mappingNotFound(key) }
                return try StoredKey.fetchAll(
                    db,
                    sql: "SELECT key FROM lookup_key WHERE record_id = ? ORDER BY key",
                    arguments: [recordID]
                ).map(keyCodec.displayed)
            }
        }
    }

    /// Points the whole record of `key` at `shard` (the rows are not moved); returns the shard
    /// it was on. `MAPPING_NOT_FOUND` when `key` is unmapped.
    @discardableResult
    package func updateMapping(key: String, shard: String) throws -> String {
        try guarded {
            try pool.write { db in
                guard
                    let record = try Row.fetchOne(
                        db.cachedStatement(sql: Self.recordByKeySQL),
                        arguments: [keyCodec.storedValue(for: key)]
                    )
                else { throw CollegeDBError.mappingNotFound(key) }
                try db.execute(
                    sql: "UPDATE record SET shard = ?, updated_at = ? WHERE id = ? AND shard <> ?",
                    arguments: [shard, Self.nowMilliseconds(), (try record.decode(Int64.self, atIndex: 0)), shard]
                )
                return try record.decode(atIndex: 1)
            }
        }
    }

    /// Removes the whole record of `key`; returns how many lookup keys went with it (0 when
    /// `key` was unmapped).
    @discardableResult
    package func deleteMapping(key: String) throws -> Int {
        try guarded {
            try pool.write { db in
                guard let recordID = try recordID(ofKey: key, in: db) else { return 0 }
                return try deleteRecord(id: recordID, in: db)
            }
        }
    }

    /// Removes record `id` with its lookup keys: a new record whose first write failed.
    package func deleteRecord(id: Int64) throws {
        try guarded { try pool.write { db in _ = try deleteRecord(id: id, in: db) } }
    }

    /// Removes record `id` with its lookup keys; returns how many keys it had (0 when none).
    private func deleteRecord(id: Int64, in db: Database) throws -> Int {
        try db.execute(sql: "DELETE FROM additional_key WHERE record_id = ?", arguments: [id])
        let additional = db.changesCount
        try db.execute(sql: "DELETE FROM record WHERE id = ?", arguments: [id])
        return db.changesCount == 0 ? 0 : additional + 1
    }

    /// One page of the keys mapped to `shard`, in a stable order, after `cursor`; the next
    /// cursor is nil once the last page is returned. Each page costs O(limit), so paging
    /// through any number of keys is complete and linear.
    package func keys(
        onShard shard: String,
        limit: Int,
        after cursor: KeyCursor?
    ) throws -> (keys: [String], next: KeyCursor?) {
        try guarded {
            try pool.unsafeRead { db in
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT k.record_id, k.key FROM lookup_key k
                        WHERE k.record_id IN (SELECT id FROM record WHERE shard = ?1 AND id >= ?2 ORDER BY id LIMIT ?4 + 1)
                            AND (k.record_id > ?2 OR k.key > ?3)
                        ORDER BY k.record_id, k.key LIMIT ?4
                        """,
                    // The page's records: the cursor's own (some of its keys may be left) and
                    // enough after it, each with at least one key, to fill the page and one more.
                    arguments: [
                        shard, cursor?.recordID ?? -1, (cursor?.key ?? .digest(Data())).databaseValue, limit + 1,
                    ]
                )
                let page = rows.prefix(limit)
                let next =
                    try rows.count > limit
                    ? page.last.map { KeyCursor(recordID: try $0.decode(atIndex: 0), key: try $0.decode(atIndex: 1)) }
                    : nil
                return (try page.map { keyCodec.displayed(try $0.decode(atIndex: 1)) }, next)
            }
        }
    }

    /// Deletes every mapping (not the round-robin position or the statistics overrides);
    /// returns how many records were deleted.
    package func clearMappings() throws -> Int {
        try guarded {
            try pool.write { db in
                try deleteAllRecords(in: db)
            }
        }
    }

    func recordID(ofKey key: String, in db: Database) throws -> Int64? {
        try recordID(ofStored: keyCodec.storedValue(for: key), in: db)
    }

    /// The record a stored key belongs to, or nil.
    private func recordID(ofStored stored: StoredKey, in db: Database) throws -> Int64? {
        try Int64.fetchOne(db.cachedStatement(sql: Self.recordIDByKeySQL), arguments: [stored])
    }

    static let recordIDByKeySQL = recordOfKeySQL(selecting: "r.id")

    /// Gives `key` to `recordID`, unless another record holds it.
    private func claim(_ key: String, for recordID: Int64, in db: Database) throws {
        let stored = keyCodec.storedValue(for: key)
        if let owner = try self.recordID(ofStored: stored, in: db) {
            guard owner == recordID else {
                throw CollegeDBError(.keyConflict, "key '\(key)' already belongs to another record")
            }
            return
        }
        try db.execute(sql: "INSERT INTO additional_key (key, record_id) VALUES (?, ?)", arguments: [stored, recordID])
    }
}

/// Where a page of `getKeysForShard` ended: opaque to clients, as `RECORD.HEX`.
public struct KeyCursor: Sendable, Hashable {
    let recordID: Int64
    let key: StoredKey

    init(recordID: Int64, key: StoredKey) {
        self.recordID = recordID
        self.key = key
    }

    /// Parses a cursor a client sent back; nil when it is not one.
    public init?(_ text: String, hashesKeys: Bool) {
        let parts = text.split(separator: ".", maxSplits: 1)
        guard parts.count == 2, let recordID = Int64(parts[0]), parts[1].count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        var index = parts[1].startIndex
        while index < parts[1].endIndex {
            let next = parts[1].index(index, offsetBy: 2)
            guard let byte = UInt8(parts[1][index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        self.recordID = recordID
        if hashesKeys {
            key = .digest(Data(bytes))
        } else {
            guard let text = String(validating: bytes, as: UTF8.self) else { return nil }
            key = .text(text)
        }
    }

    /// The cursor as clients see it.
    public var text: String {
        let bytes: [UInt8]
        switch key {
        case .digest(let data): bytes = Array(data)
        case .text(let string): bytes = Array(string.utf8)
        }
        return "\(recordID)." + bytes.lowercaseHex
    }
}
