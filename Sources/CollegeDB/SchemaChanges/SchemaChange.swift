import Foundation

/// A schema change recorded in the catalog (`applySchemaChange`): SQL applied to every shard,
/// exactly once each, in the order the changes were recorded.
public struct SchemaChange: Sendable, Hashable {
    /// The change's place in the order of changes.
    public var id: Int64
    public var name: String
    public var sql: String
    public var state: SchemaChangeState
    /// How many shards may have the change before it pauses; nil for every shard.
    public var canary: Int?
    /// The shards it failed on at its last pass, each with the error.
    public var failures: [SchemaChangeFailure]
    /// Milliseconds since 1970.
    public var createdAt: Int64
    /// How many times it was set running again: a pass writes how it ended only when no call
    /// set the change running since the pass read it, so a retry or a "go on" is never lost.
    public var attempt: Int64
}

/// Where a schema change is.
public enum SchemaChangeState: String, Sendable, Hashable {
    /// Being applied, or waiting for an earlier change to finish.
    case running
    /// Applied to its canary shards; the next `applySchemaChange` of it goes on.
    case paused
    /// On every shard.
    case done
    /// Failed on at least one shard (named in its failures); later changes wait for it.
    case failed
}

/// A shard a schema change failed on, and why.
public struct SchemaChangeFailure: Sendable, Hashable, Codable {
    public var shard: String
    public var error: String

    public init(shard: String, error: String) {
        self.shard = shard
        self.error = error
    }

    /// Failures as the catalog keeps them: a JSON array.
    static func encoded(_ failures: [SchemaChangeFailure]) -> String {
        // Encoding an array of two strings cannot fail.
        (try? JSONEncoder().encode(failures)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
    }

    /// Failures from the catalog's JSON array.
    /// - Throws: `MAPPING_STORE_FAILED` for a value that is not one.
    static func decoded(_ text: String) throws -> [SchemaChangeFailure] {
        do {
            return try JSONDecoder().decode([SchemaChangeFailure].self, from: Data(text.utf8))
        } catch {
            throw CollegeDBError(
                .mappingStoreFailed,
                "a schema change's failures in the catalog are not readable: \(text)"
            )
        }
    }
}

/// What `getSchemaChangeStatus` reports of a change.
public struct SchemaChangeStatus: Sendable, Hashable {
    public var name: String
    public var state: SchemaChangeState
    /// Shards known now.
    public var shards: Int
    /// Of them, those that have the change.
    public var applied: Int
    /// Of them, those that do not have it yet.
    public var pending: Int
    public var failures: [SchemaChangeFailure]
    /// Milliseconds since 1970.
    public var createdAt: Int64
}
