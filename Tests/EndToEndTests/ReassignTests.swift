import Foundation
import Testing

/// `reassignShard` moves a key's rows, crash-safely, while other connections keep writing.
@Suite(.blocksWhileWaiting) struct ReassignTests {
    static let schema = """
        CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);
        CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id), body TEXT);
        CREATE INDEX posts_by_user ON posts (user_id);
        CREATE TABLE settings (id INTEGER PRIMARY KEY, theme TEXT);
        """

    /// User 7 with three posts and a settings row, mapped to db-1; other users' rows beside it.
    static func seed(_ socket: LineSocket) throws {
        _ = try socket.result("createSchema", [schema, "db-1"])
        _ = try socket.result("setShardMapping", ["7", "db-1"])
        _ = try socket.result("run", ["7", "INSERT INTO users VALUES (7, 'Ann')"])
        _ = try socket.result("run", ["7", "INSERT INTO settings VALUES (7, 'dark')"])
        for body in ["one", "two", "three"] {
            _ = try socket.result("run", ["7", "INSERT INTO posts (user_id, body) VALUES (7, ?)", [body]])
        }
        _ = try socket.result("setShardMapping", ["8", "db-1"])
        _ = try socket.result("run", ["8", "INSERT INTO users VALUES (8, 'Bob')"])
        _ = try socket.result("run", ["8", "INSERT INTO posts (user_id, body) VALUES (8, 'bob')"])
    }

    /// Per shard, how many of user `id`'s rows each table holds (a missing table holds none).
    static func rowsPerShard(_ socket: LineSocket, user id: Int) throws -> [String: [Int]] {
        var result: [String: [Int]] = [:]
        for shard in try #require(socket.result("listKnownShards") as? [String]) {
            var counts: [Int] = []
            for (table, column) in [("users", "id"), ("posts", "user_id"), ("settings", "id")] {
                let response = try socket.call(
                    "firstShard",
                    [shard, "SELECT count(*) AS n FROM \(table) WHERE \(column) = ?", [id]]
                )
                counts.append(((response["result"] as? [String: Any])?["n"] as? Int) ?? 0)
            }
            result[shard] = counts
        }
        return result
    }

    static func mappedShard(_ socket: LineSocket, _ key: String) throws -> String? {
        (try socket.result("getShardMapping", [key]) as? [String: Any])?["shard"] as? String
    }

    @Test func aKeysRowsMoveWithItsMappingAndTheTargetTablesAreCreated() throws {
        let daemon = try Daemon(["--owner", "posts=user_id"])
        let socket = try daemon.connect()
        try Self.seed(socket)
        let moved = try #require(socket.result("reassignShard", ["7", "db-3"]) as? [String: Any])
        #expect(moved["from"] as? String == "db-1")
        #expect(moved["to"] as? String == "db-3")
        #expect(moved["rowsMoved"] as? Int == 5)
        #expect(try Self.rowsPerShard(socket, user: 7) == ["db-1": [0, 0, 0], "db-2": [0, 0, 0], "db-3": [1, 3, 1]])
        #expect(try Self.rowsPerShard(socket, user: 8) == ["db-1": [1, 1, 0], "db-2": [0, 0, 0], "db-3": [0, 0, 0]])
        #expect(try Self.mappedShard(socket, "7") == "db-3")
        let name = try #require(socket.result("first", ["7", "SELECT name FROM users WHERE id = 7"]) as? [String: Any])
        #expect(name["name"] as? String == "Ann")
        let index = try socket.result(
            "firstShard",
            ["db-3", "SELECT count(*) AS n FROM sqlite_master WHERE name = 'posts_by_user'"]
        )
        #expect((index as? [String: Any])?["n"] as? Int == 1, "indexes come with a created table")
    }

    @Test func oneTableCanBeMovedAlone() throws {
        let daemon = try Daemon(["--owner", "posts=user_id"])
        let socket = try daemon.connect()
        try Self.seed(socket)
        let moved = try #require(socket.result("reassignShard", ["7", "db-2", "settings"]) as? [String: Any])
        #expect(moved["rowsMoved"] as? Int == 1)
        #expect(try Self.rowsPerShard(socket, user: 7) == ["db-1": [1, 3, 0], "db-2": [0, 0, 1], "db-3": [0, 0, 0]])
        let unknown = try socket.call("reassignShard", ["7", "db-3", "nope"])
        #expect(
            ((unknown["error"] as? [String: Any])?["data"] as? [String: Any])?["code"] as? String
                == "INVALID_TABLE_NAME"
        )
        let unmapped = try socket.call("reassignShard", ["999", "db-3"])
        #expect(
            ((unmapped["error"] as? [String: Any])?["data"] as? [String: Any])?["code"] as? String
                == "MAPPING_NOT_FOUND"
        )
    }

    @Test(arguments: ["after-intent", "after-copy", "after-flip", "after-delete"])
    func aMoveKilledAtAnyStepIsFinishedOrUndoneOnRestart(step: String) throws {
        let directory = Daemon.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            let doomed = try Daemon(
                ["--owner", "posts=user_id"],
                directory: directory,
                environment: ["COLLEGEDB_TEST_KILL_AT": step]
            )
            let socket = try doomed.connect()
            try Self.seed(socket)
            try socket.send(#"{"jsonrpc":"2.0","id":1,"method":"reassignShard","params":["7","db-2"]}"# + "\n")
            #expect(try socket.readLine() == nil, "the daemon died at \(step)")
            doomed.process.waitUntilExit()
            #expect(doomed.process.terminationReason == .uncaughtSignal)
        }
        let daemon = try Daemon(["--owner", "posts=user_id"], directory: directory)
        let socket = try daemon.connect()
        let shard = try #require(try Self.mappedShard(socket, "7"))
        let rows = try Self.rowsPerShard(socket, user: 7)
        #expect(rows[shard] == [1, 3, 1], "every row on the mapped shard (\(step): \(rows))")
        #expect(
            rows.filter { $0.key != shard }.values.allSatisfy { $0 == [0, 0, 0] },
            "and nowhere else (\(step): \(rows))"
        )
        #expect(shard == (["after-flip", "after-delete"].contains(step) ? "db-2" : "db-1"))
        for target in ["db-2"] {
            let journal = try socket.call("firstShard", [target, "SELECT count(*) AS n FROM _collegedb_move_journal"])
            #expect(((journal["result"] as? [String: Any])?["n"] as? Int ?? 0) == 0, "the journal is cleared")
        }
        #expect(try Self.rowsPerShard(socket, user: 8)["db-1"] == [1, 1, 0], "other keys untouched")
    }

    @Test func writesToAMovingKeyFromAnotherConnectionLoseNothing() throws {
        let daemon = try Daemon(["--owner", "posts=user_id"])
        let setup = try daemon.connect()
        try Self.seed(setup)
        let writer = try daemon.connect()
        let mover = try daemon.connect()
        let writes = 300
        DispatchQueue.concurrentPerform(iterations: 2) { role in
            if role == 0 {
                for index in 0..<writes {
                    _ = try? writer.result(
                        "run",
                        ["7", "INSERT INTO posts (user_id, body) VALUES (7, ?)", ["w\(index)"]]
                    )
                }
            } else {
                for target in ["db-2", "db-3", "db-1", "db-2", "db-3", "db-2"] {
                    _ = try? mover.result("reassignShard", ["7", target])
                }
            }
        }
        let shard = try #require(try Self.mappedShard(setup, "7"))
        #expect(shard == "db-2")
        let rows = try Self.rowsPerShard(setup, user: 7)
        #expect(rows[shard] == [1, 3 + writes, 1], "\(rows)")
        #expect(rows.filter { $0.key != shard }.values.allSatisfy { $0 == [0, 0, 0] }, "\(rows)")
    }
}
