import CollegeDBJSON
import CollegeDBRPC

/// Turns fuzzer bytes into a call of a method of the method table, with extreme values for its
/// parameters and its id: the bytes choose the method, the id, whether the params are named or
/// positional, and one value of ``extremes`` (or a made-up one) per parameter.
struct MethodCallFuzzing {
    let methods: [RPCMethod]

    /// Numbers, names, paths and ids that have ended processes or leaked before: the integer
    /// range's ends and beyond, doubles past Int64 and Double, NaN-like literals, names that
    /// climb out of a directory or carry terminal escapes, `file:` URIs, statements that write
    /// where only reads are allowed, sums that overflow.
    static let extremes: [JSONValue] = [
        .null, .bool(true), .bool(false),
        .integer(0), .integer(1), .integer(-1), .integer(Int64.max), .integer(Int64.min), .integer(Int64.max - 1),
        .integer(9_007_199_254_740_993), .integer(Int64(Int32.max) + 1), .integer(65_536),
        .double(0.5), .double(-0.0), .double(1e300), .double(-1e300), .double(.leastNonzeroMagnitude), .double(1e19),
        .number("123456789012345678901234567890"), .number("-99999999999999999999"), .number("1e999"),
        .number("-1e999"),
        .string(""), .string("db-1"), .string("db-2"), .string("k"), .string("."), .string(".."),
        .string("../../../x/esc"), .string("a/b"), .string("x\u{1B}[31mred"), .string("quote'\"\n"),
        .string(String(repeating: "n", count: 300)), .string("file:/tmp/x.sqlite?mode=rwc"),
        .string("/dev/null"), .string("postgresql://nobody@127.0.0.1:1/x"),
        .string("SELECT 9223372036854775807"), .string("SELECT -9223372036854775808"),
        .string("SELECT count(*) FROM t"), .string("DELETE FROM t"),
        .string("INSERT INTO t (v) VALUES ('f') RETURNING 1"),
        .string("SELECT * FROM t"), .string("PRAGMA writable_schema"), .string("SELECT $9223372036854775807"),
        .string("SELECT E'\\"),
        .array([]), .array([.string("k")]), .array([.integer(Int64.max), .number("1e999")]),
        .object([]), .object([("limit", .integer(Int64.max)), ("offset", .integer(Int64.max))]),
        .object([("rowsPerSecond", .number("1e999")), ("dryRun", .bool(true))]),
        .object([("orderBy", .string("v")), ("limit", .integer(-1))]),
        .object([("drain", .array([.string("db-1")])), ("maxMoves", .integer(Int64.max))]),
        .object([("$blob", .string("AAEC"))]),
    ]

    /// Ids of every JSON type, the lossy numbers among them.
    static let ids: [JSONValue] = [
        .integer(1), .integer(Int64.max), .integer(Int64.min), .number("123456789012345678901234567890"),
        .number("1e999"), .double(0.25), .string(""), .string("id\u{0}x"), .null,
    ]

    /// The request the bytes describe, or nil when there are too few.
    func request(_ bytes: [UInt8]) -> JSONValue? {
        guard bytes.count >= 3, !methods.isEmpty else { return nil }
        let method = methods[Int(bytes[0]) % methods.count]
        let id = Self.ids[Int(bytes[1]) % Self.ids.count]
        let named = bytes[2] & 1 == 1
        var values = bytes.dropFirst(3).makeIterator()
        var arguments: [(String, JSONValue)] = []
        for parameter in method.parameters {
            guard let choice = values.next() else { break }
            arguments.append((parameter.name, Self.extremes[Int(choice) % Self.extremes.count]))
        }
        let params: JSONValue = named ? .object(arguments) : .array(arguments.map(\.1))
        return .object([("jsonrpc", .string("2.0")), ("id", id), ("method", .string(method.name)), ("params", params)])
    }
}
