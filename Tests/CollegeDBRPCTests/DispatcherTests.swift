import CollegeDB
import CollegeDBJSON
import Foundation
import Testing

@testable import CollegeDBRPC

/// The dispatcher in process, on a real engine over real SQLite files.
@Suite struct DispatcherTests {
    func withDispatcher(_ body: (JSONRPCDispatcher) async throws -> Void) async throws {
        let directory = "/tmp/cdbr-\(UUID().uuidString.prefix(12))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try await CollegeDB.open(CollegeDBConfiguration(dataDirectory: directory))
        try await body(JSONRPCDispatcher(database: database))
    }

    func respond(_ dispatcher: JSONRPCDispatcher, _ line: String) async throws -> JSONValue? {
        guard let bytes = await dispatcher.respond(toLine: Array(line.utf8)) else { return nil }
        return try JSONParser.parse(bytes)
    }

    @Test func domainErrorsCarryTheirStringCode() async throws {
        try await withDispatcher { dispatcher in
            let response = try await respond(
                dispatcher,
                #"{"jsonrpc":"2.0","id":"x","method":"runShard","params":["nope","SELECT 1"]}"#
            )
            #expect(response?["id"] == .string("x"))
            #expect(response?["error"]?["code"] == .integer(-32001))
            #expect(response?["error"]?["data"]?["code"] == .string("SHARD_NOT_FOUND"))
        }
    }

    @Test func notificationsGetNothingEvenWhenTheyFail() async throws {
        try await withDispatcher { dispatcher in
            let single = try await respond(dispatcher, #"{"jsonrpc":"2.0","method":"nosuch"}"#)
            let batch = try await respond(dispatcher, #"[{"jsonrpc":"2.0","method":"health"}]"#)
            #expect(single == nil)
            #expect(batch == nil)
        }
    }

    @Test func everyMethodInTheTableIsDocumented() async throws {
        try await withDispatcher { dispatcher in
            let document = try await respond(dispatcher, #"{"jsonrpc":"2.0","id":1,"method":"rpc.discover"}"#)
            guard case .array(let methods)? = document?["result"]?["methods"] else {
                Issue.record("no methods in the OpenRPC document")
                return
            }
            let documented = methods.compactMap { method -> String? in
                if case .string(let name)? = method["name"] { return name }
                return nil
            }
            #expect(documented == MethodTable.standard.methods.map(\.name))
        }
    }
}
