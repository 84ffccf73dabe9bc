import Foundation
import Testing

@testable import CollegeDB

/// After hostile calls, every pooled client connection is as the daemon set it up: nothing a
/// caller tried can stay on a connection for the next caller.
@Suite struct ClientConnectionStateTests {
    let directory = TemporaryDirectory()

    @Test func everyPooledConnectionIsCleanAfterHostileCalls() async throws {
        let shard = try ShardDatabase(name: "s", path: directory.path + "/s.sqlite")
        _ = try await shard.executeScript("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        let hostile = [
            "BEGIN", "SAVEPOINT a", "PRAGMA foreign_keys = OFF", "PRAGMA synchronous = OFF", "PRAGMA query_only = 1",
            "PRAGMA writable_schema = 1", "PRAGMA recursive_triggers = 1", "PRAGMA cache_size = 1",
            "ATTACH ':memory:' AS m", "CREATE TEMP TABLE x (v)", "PRAGMA temp_store = MEMORY",
            "PRAGMA defer_foreign_keys = 1", "PRAGMA ignore_check_constraints = 1",
        ]
        // Run them concurrently so that every reader and the writer get some.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for sql in hostile {
                for _ in 0..<4 {
                    group.addTask {
                        await #expect(throws: CollegeDBError.self) { try await shard.execute(SQLStatement(sql: sql)) }
                    }
                }
            }
            try await group.waitForAll()
        }
        _ = try await shard.executeBatch([SQLStatement(sql: "INSERT INTO t VALUES (1)")])
        let states = try shard.clientConnectionStates()
        #expect(states.count >= 2, "the writer and at least one reader")
        for (index, state) in states.enumerated() {
            #expect(state["autocommit"] == "1")
            #expect(state["foreign_keys"] == "1")
            #expect(state["synchronous"] == "2")
            #expect(state["query_only"] == (index == 0 ? "0" : "1"))
            #expect(state["writable_schema"] == "0")
            #expect(state["recursive_triggers"] == "0")
            #expect(state["defer_foreign_keys"] == "0")
            #expect(state["ignore_check_constraints"] == "0")
            #expect(state["cache_size"] == "-2000")
            #expect(state["attached"] == "0")
            #expect(state["temporaryObjects"] == "0")
        }
    }
}
