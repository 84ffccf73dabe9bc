import CollegeDBJSON
import Foundation

/// One row: its columns in the statement's order, and their values.
public struct Row: Sendable, Hashable {
    public let columns: [String]
    public let values: [SQLValue]

    init(json: JSONValue) {
        guard case .object(let members) = json else {
            columns = []
            values = []
            return
        }
        columns = members.map(\.0)
        values = members.map { SQLValue(json: $0.1) }
    }

    /// The value of the column named `column`, or nil when there is none.
    public subscript(column: String) -> SQLValue? {
        columns.firstIndex(of: column).map { values[$0] }
    }

    /// The row decoded into the caller's type, column names as coding keys. Blobs decode as
    /// `Data`; integers keep their 64 bits.
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        let members: [(String, JSONValue)] = zip(columns, values).map { column, value in
            if case .blob(let data) = value { return (column, .string(data.base64EncodedString())) }
            return (column, value.json)
        }
        return try JSONDecoder().decode(T.self, from: Data(JSONSerializer.serialize(.object(members))))
    }
}

/// What a statement produced: its rows (none for `run`) and D1-style metadata.
public struct QueryResult: Sendable, Hashable {
    public struct Meta: Sendable, Hashable {
        public let shard: String
        public let changes: Int
        public let lastRowID: Int64
        /// Milliseconds spent in SQLite.
        public let duration: Double
    }

    public let rows: [Row]
    public let meta: Meta

    init(json: JSONValue) throws {
        guard case .array(let rows)? = json["results"], let meta = json["meta"],
            case .string(let shard)? = meta["shard"], case .integer(let changes)? = meta["changes"],
            case .integer(let lastRowID)? = meta["last_row_id"]
        else { throw CollegeDBClientError(.invalidResponse, "not a query result") }
        var duration = 0.0
        if case .double(let value)? = meta["duration"] { duration = value }
        self.rows = rows.map(Row.init(json:))
        self.meta = Meta(shard: shard, changes: Int(changes), lastRowID: lastRowID, duration: duration)
    }

    /// Every row decoded into the caller's type.
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> [T] {
        try rows.map { try $0.decode(T.self) }
    }
}

/// One shard's part of a fan-out call: its result, or the error it alone failed with.
public struct FanOutEntry: Sendable {
    public let shard: String
    public let outcome: Result<QueryResult, CollegeDBClientError>
}
