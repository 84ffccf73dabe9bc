import CollegeDBJSON

/// One parameter of a method: its name, JSON type, whether it is required, and what it means.
public struct MethodParameter: Sendable {
    public enum ValueType: String, Sendable {
        case string, integer, number, boolean, array, object

        func accepts(_ value: JSONValue) -> Bool {
            switch (self, value) {
            case (.string, .string), (.integer, .integer), (.number, .integer), (.number, .double), (.number, .number),
                (.boolean, .bool),
                (.array, .array), (.object, .object):
                return true
            default:
                return false
            }
        }
    }

    public var name: String
    public var type: ValueType
    public var required: Bool
    public var summary: String

    public static func required(_ name: String, _ type: ValueType, _ summary: String) -> MethodParameter {
        MethodParameter(name: name, type: type, required: true, summary: summary)
    }

    public static func optional(_ name: String, _ type: ValueType, _ summary: String) -> MethodParameter {
        MethodParameter(name: name, type: type, required: false, summary: summary)
    }
}
