import CollegeDB
import CollegeDBJSON
import Foundation

/// A call's parameters, matched against the method's declared parameters: by name or by
/// position, with unknown names, missing required ones and wrong types already refused.
/// A `null` optional parameter counts as absent.
package struct MethodArguments: Sendable {
    private var values: [String: JSONValue]
    /// Who calls, and whether they still wait for the answer.
    package let context: CallContext

    /// Matches `params` (an object, an array, or nil) against `parameters`.
    init(_ params: JSONValue?, parameters: [MethodParameter], context: CallContext = CallContext()) throws(JSONRPCError)
    {
        self.context = context
        var values: [String: JSONValue] = [:]
        switch params {
        case nil:
            break
        case .array(let elements)?:
            guard elements.count <= parameters.count else {
                throw .invalidParams(
                    "expected at most \(parameters.count) positional parameter(s), got \(elements.count)"
                )
            }
            for (parameter, element) in zip(parameters, elements) { values[parameter.name] = element }
        case .object(let members)?:
            for (name, value) in members {
                guard parameters.contains(where: { $0.name == name }) else {
                    let known = parameters.map(\.name).joined(separator: ", ")
                    throw .invalidParams(
                        "unknown parameter '\(name)' (this method takes: \(known.isEmpty ? "none" : known))"
                    )
                }
                values[name] = value
            }
        default:
            throw .invalidParams("params must be an array or an object")
        }
        for parameter in parameters {
            let value = values[parameter.name]
            if value == nil || value == .null {
                guard !parameter.required else { throw .invalidParams("\(parameter.name): is required") }
                values[parameter.name] = nil
                continue
            }
            guard parameter.type.accepts(value!) else {
                throw .invalidParams("\(parameter.name): must be \(parameter.type.rawValue), got \(value!.typeName)")
            }
        }
        self.values = values
    }

    package subscript(name: String) -> JSONValue? { values[name] }

    package func string(_ name: String) -> String? {
        if case .string(let value)? = values[name] { return value }
        return nil
    }

    package func integer(_ name: String) -> Int64? {
        if case .integer(let value)? = values[name] { return value }
        return nil
    }

    package func boolean(_ name: String) -> Bool? {
        if case .bool(let value)? = values[name] { return value }
        return nil
    }

    /// An array parameter whose elements must all be strings (empty when absent).
    package func strings(_ name: String) throws(JSONRPCError) -> [String] {
        guard case .array(let elements)? = values[name] else { return [] }
        var result: [String] = []
        for (index, element) in elements.enumerated() {
            guard case .string(let text) = element else {
                throw .invalidParams("\(name)[\(index)]: must be string, got \(element.typeName)")
            }
            result.append(text)
        }
        return result
    }

    /// A required string; the parameter table guarantees it is present.
    package func requiredString(_ name: String) -> String { string(name)! }

    /// The limits of this call's statements: the `timeout` parameter (seconds, when the method
    /// has one) and the caller's cancellation.
    func limits() throws(JSONRPCError) -> QueryLimits {
        var limits = QueryLimits(cancellation: context.cancellation)
        if let seconds = values["timeout"]?.doubleValue {
            guard seconds > 0, seconds.isFinite else {
                throw .invalidParams("timeout: must be a number of seconds > 0")
            }
            limits.timeout = .nanoseconds(Int64(min(seconds, 86_400) * 1e9))
        }
        return limits
    }

    /// The SQL statement made of the `sql` and `bindings` parameters.
    func statement(sql: String = "sql", bindings: String = "bindings") throws(JSONRPCError) -> SQLStatement {
        SQLStatement(sql: requiredString(sql), bindings: try Self.bindings(values[bindings], name: bindings))
    }

    /// Converts a JSON array of bindings to SQLite values, naming any bad element.
    static func bindings(_ value: JSONValue?, name: String) throws(JSONRPCError) -> [SQLValue] {
        guard case .array(let elements)? = value else { return [] }
        var result: [SQLValue] = []
        result.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            result.append(try sqlValue(element, name: "\(name)[\(index)]"))
        }
        return result
    }

    static func sqlValue(_ value: JSONValue, name: String) throws(JSONRPCError) -> SQLValue {
        switch value {
        case .null: return .null
        case .bool(let flag): return .integer(flag ? 1 : 0)
        case .integer(let integer): return .integer(integer)
        case .double(let double): return .real(double)
        case .number:
            // Beyond Int64 or Double: bound as the nearest real, as SQLite reads such a literal.
            return .real(value.doubleValue ?? .nan)
        case .string(let text):
            // SQLite's C string API would cut the text at U+0000: refuse rather than lose the rest.
            guard !text.utf8.contains(0) else {
                throw .invalidParams("\(name): text cannot contain U+0000; bind it as a blob")
            }
            return .text(text)
        case .object(let members):
            guard members.count == 1, members[0].0 == "$blob", case .string(let base64) = members[0].1 else {
                throw .invalidParams("\(name): an object binding must be {\"$blob\": \"<base64>\"}")
            }
            guard let data = Data(base64Encoded: base64) else {
                throw .invalidParams("\(name): $blob is not valid standard base64")
            }
            return .blob(data)
        case .array:
            throw .invalidParams("\(name): an array cannot be bound")
        }
    }
}
