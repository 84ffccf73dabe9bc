import CollegeDB
import CollegeDBJSON
import Foundation

/// The wire shapes of the contract's results.
enum ResultEncoding {
    static func value(_ value: SQLValue) -> JSONValue {
        switch value {
        case .null: return .null
        case .integer(let integer): return .integer(integer)
        case .real(let double): return .double(double)
        case .text(let text): return .string(text)
        case .blob(let data): return .object([("$blob", .string(data.base64EncodedString()))])
        case .boolean(let bool): return .bool(bool)
        // A value the database calls JSON that does not parse is given as the text it is.
        case .json(let text): return (try? JSONParser.parse(Array(text.utf8))) ?? .string(text)
        }
    }

    /// A row: column name to value, in the statement's column order.
    static func row(_ values: [SQLValue], columns: [String]) -> JSONValue {
        .object(zip(columns, values).map { ($0, value($1)) })
    }

    static func meta(_ result: QueryResult) -> JSONValue {
        .object([
            ("shard", .string(result.shard)),
            ("changes", .integer(Int64(result.changes))),
            ("last_row_id", .integer(result.lastRowID)),
            ("duration", .double(result.durationMilliseconds)),
        ])
    }

    /// `{"success": true, "results": [], "meta": {...}}`.
    static func runStyle(_ result: QueryResult) -> JSONValue {
        .object([("success", .bool(true)), ("results", .array([])), ("meta", meta(result))])
    }

    /// `{"success": true, "results": [row, ...], "meta": {...}}`.
    static func allStyle(_ result: QueryResult) -> JSONValue {
        .object([
            ("success", .bool(true)),
            ("results", .array(result.rows.map { row($0, columns: result.columns) })),
            ("meta", meta(result)),
        ])
    }

    /// The first row, or null.
    static func firstStyle(_ result: QueryResult) -> JSONValue {
        result.rows.first.map { row($0, columns: result.columns) } ?? .null
    }

    /// One fan-out entry in the style of `shape`; a failed shard carries `success: false` and
    /// its error object.
    static func fanOutEntry(_ entry: FanOutResult, shape: (QueryResult) -> JSONValue) -> JSONValue {
        switch entry.outcome {
        case .success(let result):
            guard case .object(var members) = shape(result) else { return shape(result) }
            members.insert(("shard", .string(entry.shard)), at: 0)
            return .object(members)
        case .failure(let error):
            return .object([
                ("shard", .string(entry.shard)), ("success", .bool(false)), ("results", .array([])),
                ("error", JSONRPCError(error).json),
            ])
        }
    }

    /// A `firstAllShards` entry: `{"shard", "row", "error"?}`.
    static func firstFanOutEntry(_ entry: FanOutResult) -> JSONValue {
        switch entry.outcome {
        case .success(let result):
            return .object([("shard", .string(entry.shard)), ("row", firstStyle(result))])
        case .failure(let error):
            return .object([("shard", .string(entry.shard)), ("row", .null), ("error", JSONRPCError(error).json)])
        }
    }

    static func success() -> JSONValue { .object([("success", .bool(true))]) }
}
