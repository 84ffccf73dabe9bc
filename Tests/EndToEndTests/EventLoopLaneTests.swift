import CollegeDB
import CollegeDBJSON
import CollegeDBRPC
import Foundation
import Testing

/// Where the socket's event loop sends a keyed call it does not answer itself, in process on a
/// real engine: a key whose mapping is in memory and names a PostgreSQL shard goes straight to
/// a task (one hand-off), a key whose mapping is not in memory to a request thread, and a
/// SQLite shard's short read is answered on the loop.
@Suite(.timeLimit(.minutes(2))) struct EventLoopLaneTests {
    @Test func aKeyOfAPostgresShardGoesFromTheLoopStraightToATask() async throws {
        let server = try PostgresServer.shared()
        let passwordFile = try server.makePasswordFile()
        defer { try? FileManager.default.removeItem(atPath: passwordFile) }
        let directory = "/tmp/cdbl-\(UUID().uuidString.prefix(12))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let address = try PostgresShardAddress(url: server.url(try server.makeDatabase()), passwordFile: passwordFile)
        let database = try await CollegeDB.open(
            CollegeDBConfiguration(
                dataDirectory: directory,
                shards: [ShardDescriptor(name: "local"), ShardDescriptor(name: "pg", postgres: address)]
            )
        )
        let dispatcher = JSONRPCDispatcher(database: database)
        func first(_ key: String) -> [UInt8] {
            Array(#"{"jsonrpc":"2.0","id":1,"method":"first","params":["\#(key)","SELECT 41 + 1 AS n"]}"#.utf8)
        }
        // A schema opens the SQLite shard's file: the loop serves only a shard already open.
        let schema = #"{"jsonrpc":"2.0","id":1,"method":"createSchema","params":["CREATE TABLE t (n INTEGER)"]}"#
        let created = try #require(await dispatcher.respond(toLine: Array(schema.utf8)))
        #expect(try JSONParser.parse(created)["error"] == nil)
        for (key, shard) in [("on-pg", "pg"), ("on-local", "local")] {
            let line = #"{"jsonrpc":"2.0","id":1,"method":"setShardMapping","params":["\#(key)","\#(shard)"]}"#
            _ = await dispatcher.respond(toLine: Array(line.utf8))
            // Served by the full path once, which leaves the mapping in memory.
            let answer = try #require(await dispatcher.respond(toLine: first(key)))
            #expect(try JSONParser.parse(answer)["result"]?["n"] == .integer(42), "\(key)")
        }
        func lane(_ key: String) -> String {
            switch dispatcher.respondOnEventLoop(toLine: first(key), later: { _ in }) {
            case .answered: "answered"
            case .queued: "queued"
            case .notHere: "request thread"
            case .needsAsync: "task"
            }
        }
        #expect(lane("on-pg") == "task")
        #expect(lane("on-local") == "answered")
        #expect(lane("never-mapped") == "request thread")
        try await database.close()
    }
}
