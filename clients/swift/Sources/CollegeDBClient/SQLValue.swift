import CollegeDBJSON
import Foundation

/// A value bound to a statement or read from a row: one of SQLite's storage classes.
public enum SQLValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)

    /// The value on the wire: blobs as `{"$blob": base64}`.
    var json: JSONValue {
        switch self {
        case .null: return .null
        case .integer(let value): return .integer(value)
        case .real(let value): return .double(value)
        case .text(let value): return .string(value)
        case .blob(let value): return .object([("$blob", .string(value.base64EncodedString()))])
        }
    }

    /// The value a row holds on the wire.
    init(json: JSONValue) {
        switch json {
        case .null: self = .null
        case .bool(let flag): self = .integer(flag ? 1 : 0)
        case .integer(let value): self = .integer(value)
        case .double(let value): self = .real(value)
        case .number: self = .real(json.doubleValue ?? .nan)
        case .string(let value): self = .text(value)
        case .object:
            if case .string(let base64)? = json["$blob"], let data = Data(base64Encoded: base64) {
                self = .blob(data)
            } else {
                self = .text(String(decoding: JSONSerializer.serialize(json), as: UTF8.self))
            }
        case .array: self = .text(String(decoding: JSONSerializer.serialize(json), as: UTF8.self))
        }
    }
}

extension SQLValue: ExpressibleByNilLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByStringLiteral, ExpressibleByBooleanLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(floatLiteral value: Double) { self = .real(value) }
    public init(stringLiteral value: String) { self = .text(value) }
    public init(booleanLiteral value: Bool) { self = .integer(value ? 1 : 0) }
}
