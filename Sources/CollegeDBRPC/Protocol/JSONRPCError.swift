import CollegeDB
import CollegeDBJSON

/// A JSON-RPC 2.0 error object. Domain errors carry their stable string code in `data.code`.
package struct JSONRPCError: Error, Sendable, Hashable {
    package var code: Int
    package var message: String
    package var data: JSONValue?

    package init(code: Int, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    package static func parseError(_ detail: String) -> JSONRPCError {
        JSONRPCError(code: -32700, message: "Parse error: \(detail)")
    }

    package static func invalidRequest(_ detail: String) -> JSONRPCError {
        JSONRPCError(code: -32600, message: "Invalid Request: \(detail)")
    }

    package static func methodNotFound(_ method: String) -> JSONRPCError {
        JSONRPCError(code: -32601, message: "Method not found: \(method)")
    }

    package static func invalidParams(_ detail: String) -> JSONRPCError {
        JSONRPCError(
            code: -32602,
            message: "Invalid params: \(detail)",
            data: .object([("code", .string("INVALID_PARAMS"))])
        )
    }

    /// The error for an engine error: its numeric code from `JSONRPCErrorCodes`, its message,
    /// and `data.code` (plus `data.sqlite` or `data.postgres` when the shard reported it).
    package init(_ error: CollegeDBError) {
        var data: [(String, JSONValue)] = [("code", .string(error.code.rawValue))]
        if let sqlite = error.sqlite {
            data.append(
                (
                    "sqlite",
                    .object([
                        ("code", .integer(Int64(sqlite.code))),
                        ("extendedCode", .integer(Int64(sqlite.extendedCode))),
                        ("message", .string(sqlite.message)),
                    ])
                )
            )
        }
        if let postgres = error.postgres {
            var members: [(String, JSONValue)] = [
                ("sqlstate", .string(postgres.sqlstate)), ("message", .string(postgres.message)),
            ]
            if let detail = postgres.detail { members.append(("detail", .string(detail))) }
            data.append(("postgres", .object(members)))
        }
        let message = error.code == .invalidParams ? "Invalid params: \(error.message)" : error.message
        self.init(code: JSONRPCErrorCodes.numericCode(for: error.code), message: message, data: .object(data))
    }

    /// The error object as JSON.
    package var json: JSONValue {
        var members: [(String, JSONValue)] = [("code", .integer(Int64(code))), ("message", .string(message))]
        if let data { members.append(("data", data)) }
        return .object(members)
    }

    /// The stable string code in `data.code`, if any.
    package var dataCode: String? {
        if case .string(let code)? = data?["code"] { return code }
        return nil
    }
}
