import CollegeDB
import CollegeDBJSON

/// Builds the OpenRPC 1.2.6 description of the served methods.
enum OpenRPCDocument {
    static func document(methods: [JSONValue]) -> JSONValue {
        .object([
            ("openrpc", .string("1.2.6")),
            (
                "info",
                .object([
                    ("title", .string("collegedbd")),
                    (
                        "description",
                        .string("SQL sharded by key across SQLite databases, over line-delimited JSON-RPC 2.0.")
                    ),
                    ("version", .string(CollegeDB.version)),
                ])
            ),
            ("methods", .array(methods)),
        ])
    }

    static func method(_ method: RPCMethod) -> JSONValue {
        self.method(
            name: method.name,
            summary: method.summary,
            parameters: method.parameters,
            result: method.resultSummary
        )
    }

    static func method(name: String, summary: String, parameters: [MethodParameter], result: String) -> JSONValue {
        .object([
            ("name", .string(name)),
            ("summary", .string(summary)),
            ("paramStructure", .string("either")),
            (
                "params",
                .array(
                    parameters.map { parameter in
                        .object([
                            ("name", .string(parameter.name)),
                            ("description", .string(parameter.summary)),
                            ("required", .bool(parameter.required)),
                            ("schema", .object([("type", .string(parameter.type.rawValue))])),
                        ])
                    }
                )
            ),
            (
                "result",
                .object([("name", .string("result")), ("description", .string(result)), ("schema", .object([]))])
            ),
        ])
    }
}
