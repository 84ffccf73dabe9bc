import CollegeDBJSON

/// Schema changes: recorded once, applied by the daemon to every shard exactly once, in order.
extension CollegeDBClient {
    /// Where a schema change is, and which shards it failed on.
    public struct SchemaChangeStatus: Decodable, Sendable, Hashable {
        public struct Failure: Decodable, Sendable, Hashable {
            public let shard: String
            public let error: String
        }

        public let name: String
        /// `running`, `paused`, `done` or `failed`.
        public let state: String
        /// Shards known now.
        public let shards: Int
        /// Shards that have the change.
        public let applied: Int
        /// Shards that lack it.
        public let pending: Int
        public let failures: [Failure]
        /// Milliseconds since 1970.
        public let createdAt: Int64
    }

    /// A recorded schema change, as `listSchemaChanges` lists it.
    public struct SchemaChange: Decodable, Sendable, Hashable {
        public let name: String
        public let state: String
        public let createdAt: Int64
    }

    /// Records schema change `name` and has the daemon apply it to every shard in the
    /// background; returns at once with its status. The same name and SQL again resumes a
    /// paused or failed change; with `canary`, it pauses once that many shards have it.
    @discardableResult
    public func applySchemaChange(name: String, sql: String, canary: Int? = nil) async throws -> SchemaChangeStatus {
        let options: JSONValue = .object(canary.map { [("canary", .integer(Int64($0)))] } ?? [])
        return try await decoded(call("applySchemaChange", .array([.string(name), .string(sql), options])))
    }

    /// A change's status, or the latest change's; nil when none was ever recorded.
    public func getSchemaChangeStatus(name: String? = nil) async throws -> SchemaChangeStatus? {
        let result = try await call("getSchemaChangeStatus", .array([name.map(JSONValue.string) ?? .null]))
        return result == .null ? nil : try decoded(result)
    }

    /// Every recorded change, oldest first.
    public func listSchemaChanges() async throws -> [SchemaChange] {
        try await decoded(call("listSchemaChanges", .array([])))
    }
}
