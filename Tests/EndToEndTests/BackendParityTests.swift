import Foundation
import Testing

/// The routed, direct and fan-out methods, the same test code against SQLite shards and
/// PostgreSQL shards (three of either, named `db-1`…`db-3`).
@Suite(.blocksWhileWaiting) struct BackendParityTests {
    private func errorCode(_ response: [String: Any]) -> String? {
        ((response["error"] as? [String: Any])?["data"] as? [String: Any])?["code"] as? String
    }

    @Test(arguments: Backend.allCases) func routedCallsCarryMetaAndClearErrors(backend: Backend) throws {
        let (daemon, _) = try backend.daemon()
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", ["CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)"])
        let run = try #require(
            socket.result("run", ["user:1", "INSERT INTO users (id, name) VALUES (?, ?)", [1, "Ann"]]) as? [String: Any]
        )
        let meta = try #require(run["meta"] as? [String: Any])
        #expect(meta["changes"] as? Int == 1)
        #expect(meta["duration"] is Double)
        let shard = try #require(meta["shard"] as? String)
        let all = try #require(socket.result("all", ["user:1", "SELECT id, name FROM users"]) as? [String: Any])
        #expect((all["results"] as? [[String: Any]])?.first?["name"] as? String == "Ann")
        #expect((all["meta"] as? [String: Any])?["shard"] as? String == shard)
        #expect(try socket.result("first", ["user:1", "SELECT * FROM users WHERE id = 2"]) is NSNull)
        let direct = try #require(socket.result("firstShard", [shard, "SELECT name FROM users"]) as? [String: Any])
        #expect(direct["name"] as? String == "Ann")
        let update = try #require(
            socket.result("run", ["user:1", "UPDATE users SET name = ? WHERE id = ?", ["Bea", 1]]) as? [String: Any]
        )
        #expect((update["meta"] as? [String: Any])?["changes"] as? Int == 1)

        let duplicate = try socket.call("run", ["user:1", "INSERT INTO users (id, name) VALUES (1, 'x')"])
        #expect(errorCode(duplicate) == "QUERY_FAILED")
        let data = try #require((duplicate["error"] as? [String: Any])?["data"] as? [String: Any])
        switch backend {
        case .sqlite: #expect((data["sqlite"] as? [String: Any])?["extendedCode"] as? Int == 1555)
        case .postgres: #expect((data["postgres"] as? [String: Any])?["sqlstate"] as? String == "23505")
        }
        let two = try #require(try socket.call("run", ["user:1", "SELECT 1; SELECT 2"])["error"] as? [String: Any])
        #expect(two["code"] as? Int == -32602)
        let count = try #require(try socket.call("first", ["user:1", "SELECT ?", [1, 2]])["error"] as? [String: Any])
        #expect(count["code"] as? Int == -32602)
        for refused in ["BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT s", "/* hidden */ begin"] {
            #expect(errorCode(try socket.call("run", ["user:1", refused])) == "STATEMENT_REFUSED", "\(refused)")
        }
        #expect(errorCode(try socket.call("allShard", ["nowhere", "SELECT 1"])) == "SHARD_NOT_FOUND")
        // The connection and the data are whole after every refusal.
        let after = try #require(socket.result("first", ["user:1", "SELECT name FROM users"]) as? [String: Any])
        #expect(after["name"] as? String == "Bea")
    }

    @Test(arguments: Backend.allCases) func batchCommitsAllOrNothing(backend: Backend) throws {
        let (daemon, _) = try backend.daemon()
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", ["CREATE TABLE t (id INTEGER PRIMARY KEY)"])
        let ok = try #require(
            socket.result(
                "batch",
                [
                    "b",
                    [
                        ["sql": "INSERT INTO t VALUES (1)"], ["sql": "INSERT INTO t VALUES (?)", "bindings": [2]],
                        ["sql": "SELECT count(*) AS n FROM t"],
                    ],
                ]
            ) as? [[String: Any]]
        )
        #expect((ok[2]["results"] as? [[String: Any]])?.first?["n"] as? Int == 2)
        let failed = try socket.call(
            "batch",
            ["b", [["sql": "INSERT INTO t VALUES (3)"], ["sql": "INSERT INTO t VALUES (1)"]]]
        )
        #expect(errorCode(failed) == "QUERY_FAILED")
        let counted = try #require(socket.result("first", ["b", "SELECT count(*) AS n FROM t"]) as? [String: Any])
        #expect(counted["n"] as? Int == 2)
    }

    @Test(arguments: Backend.allCases) func readsNeverAllocateAndFirstWritesDo(backend: Backend) throws {
        let (daemon, _) = try backend.daemon()
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", ["CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT)"])
        #expect(try socket.result("first", ["reader", "SELECT body FROM notes WHERE id = ?", ["reader"]]) is NSNull)
        _ = try socket.result("all", ["reader", "SELECT count(*) AS n FROM notes"])
        #expect(try socket.result("getShardMapping", ["reader"]) is NSNull)
        // A write through `all` (RETURNING) allocates, and its row is on the mapped shard.
        let written = try #require(
            socket.result(
                "all",
                ["writer", "INSERT INTO notes (id, body) VALUES (?, ?) RETURNING id", ["writer", "x"]]
            )
                as? [String: Any]
        )
        #expect((written["results"] as? [[String: Any]])?.first?["id"] as? String == "writer")
        let mapping = try #require(socket.result("getShardMapping", ["writer"]) as? [String: Any])
        let shard = try #require(mapping["shard"] as? String)
        #expect((written["meta"] as? [String: Any])?["shard"] as? String == shard)
        let row = try #require(
            socket.result("firstShard", [shard, "SELECT body FROM notes WHERE id = 'writer'"]) as? [String: Any]
        )
        #expect(row["body"] as? String == "x")
        // A failed first write leaves no mapping.
        #expect(errorCode(try socket.call("run", ["ghost", "INSERT INTO missing_table VALUES (1)"])) == "QUERY_FAILED")
        #expect(try socket.result("getShardMapping", ["ghost"]) is NSNull)
    }

    @Test(arguments: Backend.allCases) func racingFirstWritesOfOneKeyEndOnOneShard(backend: Backend) throws {
        let (daemon, _) = try backend.daemon()
        let setup = try daemon.connect()
        _ = try setup.result("createSchema", ["CREATE TABLE hits (k TEXT NOT NULL, writer INTEGER NOT NULL)"])
        let keys = (0..<100).map { "race-\($0)" }
        let failures = LockedList()
        try ClientThreads(daemon, count: 16) { writer, socket in
            for key in keys {
                do {
                    _ = try socket.result("run", [key, "INSERT INTO hits (k, writer) VALUES (?, ?)", [key, writer]])
                } catch {
                    failures.append("\(error)")
                }
            }
        }.wait()
        #expect(failures.items.isEmpty, "\(failures.items.prefix(3))")
        let placement = try HitsPerShard.of(through: setup)
        #expect(placement.count == keys.count)
        for key in keys {
            let mapped = try #require(setup.result("getShardMapping", [key]) as? [String: Any])
            let held = placement[key] ?? []
            #expect(held.map(\.shard) == [mapped["shard"] as? String ?? ""], "\(key): \(held)")
            #expect(held.map(\.rows) == [16], "every write of \(key) on one shard")
        }
    }

    @Test(arguments: Backend.allCases) func fanOutAndFederationMergeEveryShard(backend: Backend) throws {
        let (daemon, _) = try backend.daemon()
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", ["CREATE TABLE scores (id TEXT PRIMARY KEY, points INTEGER)"])
        for index in 0..<30 {
            _ = try socket.result("run", ["p\(index)", "INSERT INTO scores VALUES (?, ?)", ["p\(index)", index]])
        }
        let merged = try #require(
            socket.result(
                "federateQuery",
                ["SELECT id, points FROM scores", [], ["orderBy": "points", "direction": "desc", "limit": 5]]
            ) as? [String: Any]
        )
        let points = (merged["results"] as? [[String: Any]])?.compactMap { $0["points"] as? Int }
        #expect(points == [29, 28, 27, 26, 25])
        #expect((merged["meta"] as? [String: Any])?["total"] as? Int == 30)
        let counted = try #require(socket.result("federateCount", ["SELECT count(*) FROM scores"]) as? [String: Any])
        #expect(counted["total"] as? Int == 30)
        _ = try socket.result("createSchema", ["CREATE TABLE only_here (x INTEGER)", "db-2"])
        let entries = try #require(
            socket.result("allAllShards", ["SELECT count(*) AS n FROM only_here", [], 1]) as? [[String: Any]]
        )
        #expect(entries.map { $0["shard"] as? String } == ["db-1", "db-2", "db-3"])
        #expect(entries.map { $0["success"] as? Bool } == [false, true, false])
        let ran = try #require(
            socket.result("runAllShards", ["UPDATE scores SET points = points + 1"]) as? [[String: Any]]
        )
        let changed = ran.compactMap { ($0["meta"] as? [String: Any])?["changes"] as? Int }.reduce(0, +)
        #expect(changed == 30)
    }

    @Test(arguments: Backend.allCases) func prepareSaysWhetherAStatementWrites(backend: Backend) throws {
        let (daemon, _) = try backend.daemon()
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", ["CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT)"])
        let read = try #require(
            socket.result("prepare", ["k", "SELECT id, label FROM items WHERE id = ?"]) as? [String: Any]
        )
        #expect(read["readOnly"] as? Bool == true)
        #expect(read["parameterCount"] as? Int == 1)
        let write = try #require(
            socket.result("prepare", ["k", "INSERT INTO items (id) VALUES (?)"]) as? [String: Any]
        )
        #expect(write["readOnly"] as? Bool == false)
        // prepare ran nothing and allocated nothing.
        #expect(try socket.result("getShardMapping", ["k"]) is NSNull)
        let total = try #require(socket.result("federateCount", ["SELECT count(*) FROM items"]) as? [String: Any])
        #expect(total["total"] as? Int == 0)
    }

    @Test(arguments: Backend.allCases) func metadataAndHealthDescribeEachShard(backend: Backend) throws {
        let (daemon, _) = try backend.daemon()
        let socket = try daemon.connect()
        // Written once, so that a SQLite shard has its file (made by the first write).
        _ = try socket.result("runAllShards", ["CREATE TABLE IF NOT EXISTS written (v INTEGER)"])
        let health = try #require(socket.result("health") as? [String: Any])
        #expect(health["status"] as? String == "ok")
        let metadata = try #require(socket.result("getShardMetadata") as? [[String: Any]])
        #expect(metadata.count == 3)
        for shard in metadata {
            #expect(shard["backend"] as? String == backend.rawValue)
            #expect(shard["health"] as? String == "ok")
            #expect((shard["sizeBytes"] as? Int ?? 0) > 0)
            #expect((shard["location"] as? String)?.contains("password") == false)
            #expect((shard["pool"] != nil) == (backend == .postgres))
        }
        #expect((try socket.result("getDatabaseSizeForShard", ["db-1"]) as? Int ?? 0) > 0)
    }
}
