import CollegeDB
import CollegeDBJSON
import Foundation
import Testing

@testable import CollegeDBRPC

@Suite struct MethodArgumentsTests {
    let parameters: [MethodParameter] = [
        .required("key", .string, ""), .required("sql", .string, ""), .optional("bindings", .array, ""),
    ]

    func message(_ params: JSONValue?) -> String? {
        do {
            _ = try MethodArguments(params, parameters: parameters)
            return nil
        } catch {
            #expect(error.code == -32602)
            return error.message
        }
    }

    @Test func namedAndPositionalParamsMeanTheSame() throws {
        let named = try MethodArguments(
            .object([("sql", .string("SELECT 1")), ("key", .string("k"))]),
            parameters: parameters
        )
        let positional = try MethodArguments(.array([.string("k"), .string("SELECT 1")]), parameters: parameters)
        #expect(named.string("key") == positional.string("key"))
        #expect(named.string("sql") == positional.string("sql"))
        #expect(positional["bindings"] == nil)
    }

    @Test func errorsNameTheParameter() {
        #expect(message(.object([("key", .string("k"))]))?.contains("sql: is required") == true)
        #expect(message(.array([.string("k"), .integer(1)]))?.contains("sql: must be string") == true)
        #expect(
            message(.object([("key", .string("k")), ("sql", .string("x")), ("extra", .null)]))?.contains("extra")
                == true
        )
        #expect(message(.array([.string("k"), .string("x"), .array([]), .null]))?.contains("at most 3") == true)
        #expect(message(.array([.string("k"), .string("x"), .null])) == nil)
    }

    @Test func bindingsConvertToSQLiteValues() throws {
        let values = try MethodArguments.bindings(
            .array([
                .null, .bool(true), .integer(-3), .double(2.5), .string("t"), .object([("$blob", .string("AAE="))]),
            ]),
            name: "bindings"
        )
        #expect(values == [.null, .integer(1), .integer(-3), .real(2.5), .text("t"), .blob(Data([0, 1]))])
        #expect(throws: JSONRPCError.self) { try MethodArguments.bindings(.array([.array([])]), name: "bindings") }
        #expect(throws: JSONRPCError.self) {
            try MethodArguments.bindings(.array([.object([("$blob", .string("*"))])]), name: "bindings")
        }
    }
}
