import Foundation
import Testing

/// The result shapes and errors of each method, over the socket.
@Suite(.blocksWhileWaiting) struct MethodTests {
    @Test func runAllFirstCarryD1Meta() throws {
        let daemon = try Daemon()
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", ["CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)"])
        let run = try #require(
            socket.result("run", ["user:1", "INSERT INTO users (id, name) VALUES (?, ?)", [1, "Ann"]]) as? [String: Any]
        )
        #expect(run["success"] as? Bool == true)
        #expect((run["results"] as? [Any])?.isEmpty == true)
        let meta = try #require(run["meta"] as? [String: Any])
        #expect(meta["changes"] as? Int == 1)
        #expect(meta["last_row_id"] as? Int == 1)
        #expect(meta["duration"] is Double)
        let shard = try #require(meta["shard"] as? String)
        let all = try #require(socket.result("all", ["user:1", "SELECT * FROM users"]) as? [String: Any])
        #expect((all["results"] as? [[String: Any]])?.first?["name"] as? String == "Ann")
        #expect((all["meta"] as? [String: Any])?["shard"] as? String == shard)
        #expect(try socket.result("first", ["user:1", "SELECT * FROM users WHERE id = 2"]) is NSNull)
        let direct = try #require(socket.result("firstShard", [shard, "SELECT name FROM users"]) as? [String: Any])
        #expect(direct["name"] as? String == "Ann")
    }

    @Test func sqlErrorsCarrySQLitesCodes() throws {
        let daemon = try Daemon()
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", ["CREATE TABLE u (id INTEGER PRIMARY KEY)"])
        _ = try socket.result("run", ["k", "INSERT INTO u VALUES (1)"])
        let error = try #require(try socket.call("run", ["k", "INSERT INTO u VALUES (1)"])["error"] as? [String: Any])
        let data = try #require(error["data"] as? [String: Any])
        #expect(data["code"] as? String == "QUERY_FAILED")
        let sqlite = try #require(data["sqlite"] as? [String: Any])
        #expect(sqlite["code"] as? Int == 19)
        #expect(sqlite["extendedCode"] as? Int == 1555)
        let two = try #require(try socket.call("run", ["k", "SELECT 1; SELECT 2"])["error"] as? [String: Any])
        #expect(two["code"] as? Int == -32602)
        let count = try #require(try socket.call("first", ["k", "SELECT ?", [1, 2]])["error"] as? [String: Any])
        #expect(count["code"] as? Int == -32602)
        let unknown = try #require(try socket.call("allShard", ["nowhere", "SELECT 1"])["error"] as? [String: Any])
        #expect((unknown["data"] as? [String: Any])?["code"] as? String == "SHARD_NOT_FOUND")
    }

    @Test func fanOutReportsEachShardAndOneFailureFailsOnlyItsEntry() throws {
        let daemon = try Daemon()
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", ["CREATE TABLE only_here (x INTEGER)", "db-2"])
        let entries = try #require(
            socket.result("allAllShards", ["SELECT count(*) AS n FROM only_here", [], 1]) as? [[String: Any]]
        )
        #expect(entries.map { $0["shard"] as? String } == ["db-1", "db-2", "db-3"])
        #expect(entries.map { $0["success"] as? Bool } == [false, true, false])
        #expect(
            ((entries[0]["error"] as? [String: Any])?["data"] as? [String: Any])?["code"] as? String == "QUERY_FAILED"
        )
        let firsts = try #require(socket.result("firstAllShards", ["SELECT 42 AS answer"]) as? [[String: Any]])
        #expect(firsts.map { ($0["row"] as? [String: Any])?["answer"] as? Int } == [42, 42, 42])
        let runs = try #require(
            socket.result("runAllShards", ["CREATE TABLE IF NOT EXISTS only_here (x INTEGER)"]) as? [[String: Any]]
        )
        #expect(runs.allSatisfy { $0["success"] as? Bool == true })
    }

    @Test func createSchemaSplitsWithSQLitesParser() throws {
        let daemon = try Daemon()
        let socket = try daemon.connect()
        let schema = """
            -- a comment; with a semicolon
            CREATE TABLE a (id INTEGER PRIMARY KEY, note TEXT DEFAULT 'x;y');
            /* block; comment */
            CREATE TABLE audit (n INTEGER);
            CREATE TRIGGER a_insert AFTER INSERT ON a BEGIN
                INSERT INTO audit VALUES (NEW.id);
                INSERT INTO audit VALUES (NEW.id + 100);
            END;
            """
        let result = try #require(socket.result("createSchema", [schema]) as? [String: Any])
        #expect(result["statements"] as? Int == 3)
        #expect(result["shards"] as? [String] == ["db-1", "db-2", "db-3"])
        _ = try socket.result("runShard", ["db-3", "INSERT INTO a (id) VALUES (5)"])
        let audit = try #require(
            socket.result("allShard", ["db-3", "SELECT n FROM audit ORDER BY n"]) as? [String: Any]
        )
        #expect((audit["results"] as? [[String: Any]])?.map { $0["n"] as? Int } == [5, 105])
        let note = try #require(socket.result("firstShard", ["db-3", "SELECT note FROM a"]) as? [String: Any])
        #expect(note["note"] as? String == "x;y")
    }

    @Test func sizesAndStatistics() throws {
        let daemon = try Daemon()
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", ["CREATE TABLE big (b BLOB)", "db-1"])
        let before = try #require(socket.result("getDatabaseSizeForShard", ["db-1"]) as? Int)
        _ = try socket.result("runShard", ["db-1", "INSERT INTO big VALUES (zeroblob(100000))"])
        let after = try #require(socket.result("getDatabaseSizeForShard", ["db-1"]) as? Int)
        #expect(after - before >= 90_000, "a 100,000-byte blob takes at least 22 more 4 KiB pages")
        for key in ["a", "b", "c", "d", "e"] { _ = try socket.result("allocate", [key]) }
        let stats = try #require(socket.result("getShardStats") as? [[String: Any]])
        #expect(stats.map { $0["binding"] as? String } == ["db-1", "db-2", "db-3"])
        #expect(stats.map { $0["count"] as? Int ?? 0 }.reduce(0, +) == 5)
        #expect(stats.contains { $0["lastUpdated"] is Int })
    }

    @Test func flushIsRefusedUnlessAllowedAndConfirmed() throws {
        let refused = try Daemon()
        let error = try #require(try refused.connect().call("flush", [true])["error"] as? [String: Any])
        #expect((error["data"] as? [String: Any])?["code"] as? String == "FLUSH_DISABLED")

        let allowed = try Daemon(["--allow-flush"])
        let socket = try allowed.connect()
        _ = try socket.result("createSchema", ["CREATE TABLE t (v INTEGER)"])
        _ = try socket.result("run", ["k", "INSERT INTO t VALUES (1)"])
        let unconfirmed = try #require(try socket.call("flush", [false])["error"] as? [String: Any])
        #expect((unconfirmed["data"] as? [String: Any])?["code"] as? String == "FLUSH_DISABLED")
        #expect((try socket.result("flush", ["confirm": true]) as? [String: Any])?["success"] as? Bool == true)
        let stats = try #require(socket.result("getShardStats") as? [[String: Any]])
        #expect(stats.allSatisfy { $0["count"] as? Int == 0 })
        let rows = try #require(socket.result("allAllShards", ["SELECT count(*) AS n FROM t"]) as? [[String: Any]])
        #expect(rows.map { (($0["results"] as? [[String: Any]])?.first?["n"] as? Int) ?? 0 }.reduce(0, +) == 1)
    }

    @Test func rpcDiscoverListsEveryServedMethod() throws {
        let daemon = try Daemon()
        let socket = try daemon.connect()
        let document = try #require(socket.result("rpc.discover") as? [String: Any])
        #expect(document["openrpc"] as? String == "1.2.6")
        let methods = try #require(document["methods"] as? [[String: Any]])
        let names = Set(methods.compactMap { $0["name"] as? String })
        let expected: Set<String> = [
            "run", "all", "first", "prepare", "batch", "runShard", "allShard", "firstShard", "runAllShards",
            "allAllShards", "firstAllShards", "allocate", "listKnownShards", "getShardStats",
            "getDatabaseSizeForShard", "createSchema", "flush", "health", "rpc.discover",
        ]
        #expect(expected.isSubset(of: names))
        for name in names where name != "rpc.discover" {
            let response = try socket.call(name, ["__unknown_parameter__": 1])
            #expect((response["error"] as? [String: Any])?["code"] as? Int == -32602, "\(name) is served")
        }
        let run = try #require(methods.first { $0["name"] as? String == "run" })
        #expect(
            (run["params"] as? [[String: Any]])?.map { $0["name"] as? String } == ["key", "sql", "bindings", "timeout"]
        )
    }
}
