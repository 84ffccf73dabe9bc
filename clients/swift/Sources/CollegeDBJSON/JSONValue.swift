/// A JSON value that keeps what the wire contract needs and Foundation's decoders do not
/// promise: integers exact over the whole Int64 range, integers told apart from reals (`1` is
/// not `1.0`), and object members in their order.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// A number written without a fraction or exponent that fits in Int64.
    case integer(Int64)
    /// A number with a fraction or exponent that a Double holds.
    case double(Double)
    /// A number as it was written, where neither Int64 nor Double holds it: an integer beyond
    /// Int64's range, or a number beyond Double's (`1e999`). Written back exactly as it came,
    /// so that a request id is answered with the same id; ``doubleValue`` reads it. Its text
    /// must be a JSON number.
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Members in their order; on the wire, names should be unique.
    case object([(String, JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.integer(let a), .integer(let b)): return a == b
        case (.double(let a), .double(let b)): return a == b || (a.isNaN && b.isNaN)
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let value): hasher.combine(value)
        case .integer(let value): hasher.combine(value)
        case .double(let value): hasher.combine(value)
        case .number(let text): hasher.combine(text)
        case .string(let value): hasher.combine(value)
        case .array(let value): hasher.combine(value)
        case .object(let members):
            for (name, value) in members {
                hasher.combine(name)
                hasher.combine(value)
            }
        }
    }

    /// The value of the member `name` of an object (the last one if repeated), else nil.
    public subscript(name: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.0 == name }?.1
    }

    /// The value of a number as the nearest Double (an infinity for one beyond Double's
    /// range), or nil when the value is not a number.
    public var doubleValue: Double? {
        switch self {
        case .integer(let integer): return Double(integer)
        case .double(let double): return double
        case .number(let text): return Double(text)
        default: return nil
        }
    }

    /// A short name of the value's JSON type, for error messages.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .integer: return "integer"
        case .double, .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}
