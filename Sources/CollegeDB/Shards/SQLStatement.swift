/// One SQL statement with its positional bindings.
public struct SQLStatement: Sendable, Hashable {
    public var sql: String
    public var bindings: [SQLValue]

    public init(sql: String, bindings: [SQLValue] = []) {
        self.sql = sql
        self.bindings = bindings
    }
}
