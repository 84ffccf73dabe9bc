import Foundation
import GRDB

/// One value of a row or a binding, with no rounding: SQLite's five storage classes, and two
/// that only PostgreSQL shards return.
public enum SQLValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)
    /// A PostgreSQL `boolean`. Bound to SQLite as 1 or 0.
    case boolean(Bool)
    /// A PostgreSQL `json` or `jsonb` document, as the server's JSON text. Bound as text.
    case json(String)
}

extension SQLValue {
    /// The value GRDB binds for this value.
    var databaseValue: DatabaseValue {
        switch self {
        case .null: return .null
        case .integer(let value): return value.databaseValue
        case .real(let value): return value.databaseValue
        case .text(let value): return value.databaseValue
        case .blob(let value): return value.databaseValue
        case .boolean(let value): return (value ? 1 : 0).databaseValue
        case .json(let value): return value.databaseValue
        }
    }

    /// The value of a column as SQLite returned it.
    init(_ databaseValue: DatabaseValue) {
        switch databaseValue.storage {
        case .null: self = .null
        case .int64(let value): self = .integer(value)
        case .double(let value): self = .real(value)
        case .string(let value): self = .text(value)
        case .blob(let value): self = .blob(value)
        }
    }
}

extension SQLValue {
    /// About how many bytes the value holds in memory, for bounding results.
    var approximateBytes: Int {
        switch self {
        case .null, .integer, .real, .boolean: return 8
        case .text(let text), .json(let text): return text.utf8.count
        case .blob(let data): return data.count
        }
    }
}
