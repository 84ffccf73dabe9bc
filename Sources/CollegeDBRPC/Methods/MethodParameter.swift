import CollegeDBJSON

/// One parameter of a method: its name, JSON type, whether it is required, and what it means.
package struct MethodParameter: Sendable {
    package enum ValueType: String, Sendable {
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

    package var name: String
    package var type: ValueType
    package var required: Bool
    package var summary: String

    package static func required(_ name: String, _ type: ValueType, _ summary: String) -> MethodParameter {
        MethodParameter(name: name, type: type, required: true, summary: summary)
    }

    package static func optional(_ name: String, _ type: ValueType, _ summary: String) -> MethodParameter {
        MethodParameter(name: name, type: type, required: false, summary: summary)
    }
}
