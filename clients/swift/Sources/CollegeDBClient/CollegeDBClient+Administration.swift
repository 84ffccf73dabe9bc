import CollegeDBJSON
import Foundation

/// Allocation, mappings, the shard registry, statistics and health.
extension CollegeDBClient {
    public struct Allocation: Decodable, Sendable, Hashable {
        public let shard: String
        public let created: Bool
    }

    public struct ShardMapping: Decodable, Sendable, Hashable {
        public let shard: String
        public let createdAt: Int64
        public let updatedAt: Int64
    }

    public struct KeysPage: Decodable, Sendable, Hashable {
        public let keys: [String]
        /// Pass it back for the next page; nil after the last.
        public let cursor: String?
    }

    public struct Reassignment: Decodable, Sendable, Hashable {
        public let from: String
        public let to: String
        public let rowsMoved: Int
    }

    public struct ShardStats: Decodable, Sendable, Hashable {
        public let binding: String
        public let count: Int64
        public let lastUpdated: Int64?
    }

    public struct ShardMetadata: Decodable, Sendable, Hashable {
        public let shardId: String
        public let binding: String
        public let keyCount: Int64
        public let health: String
        public let activeConnections: Int
        public let queryCount: Int
        public let errorCount: Int
        public let sizeBytes: Int64
        public let lastUpdated: Int64?
    }

    public struct Health: Decodable, Sendable, Hashable {
        public let status: String
        public let shards: [String: String]
        public let uptimeSeconds: Double
        public let version: String
    }

    public struct SchemaResult: Decodable, Sendable, Hashable {
        public let shards: [String]
        public let statements: Int
    }

    @discardableResult
    public func allocate(primaryKey: String, strategy: String? = nil) async throws -> Allocation {
        try await decoded(call("allocate", .array([.string(primaryKey), strategy.map(JSONValue.string) ?? .null])))
    }

    @discardableResult
    public func reassignShard(key: String, to shard: String, table: String? = nil) async throws -> Reassignment {
        try await decoded(
            call("reassignShard", .array([.string(key), .string(shard), table.map(JSONValue.string) ?? .null]))
        )
    }

    public func listKnownShards() async throws -> [String] {
        try await decoded(call("listKnownShards"))
    }

    public func registerShard(_ shard: String, path: String? = nil) async throws {
        _ = try await call("registerShard", .array([.string(shard), path.map(JSONValue.string) ?? .null]))
    }

    public func unregisterShard(_ shard: String, force: Bool = false) async throws {
        _ = try await call("unregisterShard", .array([.string(shard), .bool(force)]))
    }

    public func getShardStats() async throws -> [ShardStats] {
        try await decoded(call("getShardStats"))
    }

    /// Overrides a shard's recorded record count.
    public func updateShardStats(_ shard: String, count: Int64) async throws {
        _ = try await call("updateShardStats", .array([.string(shard), .integer(count)]))
    }

    public func incrementShardCount(_ shard: String) async throws {
        _ = try await call("incrementShardCount", .array([.string(shard)]))
    }

    /// Never takes the count below 0.
    public func decrementShardCount(_ shard: String) async throws {
        _ = try await call("decrementShardCount", .array([.string(shard)]))
    }

    public func getShardMetadata() async throws -> [ShardMetadata] {
        try await decoded(call("getShardMetadata"))
    }

    public func getDatabaseSizeForShard(_ shard: String) async throws -> Int64 {
        try await decoded(call("getDatabaseSizeForShard", .array([.string(shard)])))
    }

    @discardableResult
    public func createSchema(_ schema: String, shard: String? = nil) async throws -> SchemaResult {
        try await decoded(call("createSchema", .array([.string(schema), shard.map(JSONValue.string) ?? .null])))
    }

    public func health() async throws -> Health {
        try await decoded(call("health"))
    }

    public func getShardMapping(key: String) async throws -> ShardMapping? {
        let result = try await call("getShardMapping", .array([.string(key)]))
        return result == .null ? nil : try decoded(result)
    }

    public func setShardMapping(key: String, shard: String, additionalKeys: [String] = []) async throws {
        _ = try await call(
            "setShardMapping",
            .array([.string(key), .string(shard), .array(additionalKeys.map(JSONValue.string))])
        )
    }

    public func addLookupKeys(key: String, keys: [String]) async throws {
        _ = try await call("addLookupKeys", .array([.string(key), .array(keys.map(JSONValue.string))]))
    }

    public func getAllLookupKeys(key: String) async throws -> [String] {
        try await decoded(call("getAllLookupKeys", .array([.string(key)])))
    }

    public func updateShardMapping(key: String, shard: String) async throws {
        _ = try await call("updateShardMapping", .array([.string(key), .string(shard)]))
    }

    /// Returns how many lookup keys went with the record.
    @discardableResult
    public func deleteShardMapping(key: String) async throws -> Int {
        struct Deleted: Decodable { let deleted: Int }
        return try await (decoded(call("deleteShardMapping", .array([.string(key)]))) as Deleted).deleted
    }

    public func getKeysForShard(_ shard: String, limit: Int = 1000, cursor: String? = nil) async throws -> KeysPage {
        try await decoded(
            call(
                "getKeysForShard",
                .array([.string(shard), .integer(Int64(limit)), cursor.map(JSONValue.string) ?? .null])
            )
        )
    }

    func decoded<T: Decodable>(_ json: JSONValue) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(JSONSerializer.serialize(json)))
        } catch {
            throw CollegeDBClientError(.invalidResponse, "unexpected result: \(error)")
        }
    }
}
