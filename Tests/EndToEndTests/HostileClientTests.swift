import Foundation
import Testing

/// What a hostile co-located client can send with nothing but valid JSON-RPC, and what it gets:
/// each call is answered with its exact error code, nothing of it stays behind, and the daemon
/// keeps answering every method for other connections.
@Suite(.blocksWhileWaiting) struct HostileClientTests {
    /// Calls whose statement the daemon refuses with STATEMENT_REFUSED.
    static var refused: [(method: String, params: [Any])] {
        [
            ("run", ["k", "BEGIN"]),
            ("run", ["k", "BEGIN IMMEDIATE"]),
            ("run", ["k", "  /* hide */ begin exclusive transaction"]),
            ("run", ["k", "COMMIT"]),
            ("run", ["k", "ROLLBACK"]),
            ("run", ["k", "SAVEPOINT x"]),
            ("run", ["k", "RELEASE x"]),
            ("all", ["k", "BEGIN"]),
            ("first", ["k", "SAVEPOINT x"]),
            ("prepare", ["k", "BEGIN"]),
            ("runShard", ["db-1", "BEGIN"]),
            ("allShard", ["db-1", "BEGIN"]),
            ("firstShard", ["db-1", "BEGIN IMMEDIATE"]),
            ("run", ["k", "ATTACH DATABASE '/tmp/x.db' AS x"]),
            ("run", ["k", "DETACH DATABASE main"]),
            ("run", ["k", "VACUUM INTO '/tmp/stolen.db'"]),
            ("run", ["k", "vacuum"]),
            ("run", ["k", "PRAGMA synchronous = OFF"]),
            ("run", ["k", "PRAGMA foreign_keys = OFF"]),
            ("run", ["k", "PRAGMA writable_schema = 1"]),
            ("run", ["k", "PRAGMA query_only = 1"]),
            ("run", ["k", "PRAGMA journal_mode = DELETE"]),
            ("run", ["k", "PRAGMA user_version = 7"]),
            ("run", ["k", "PRAGMA optimize"]),
            ("all", ["k", "SELECT load_extension('/tmp/evil.so')"]),
            ("run", ["k", "CREATE TEMP TABLE t (x)"]),
            ("run", ["k", "CREATE TEMPORARY VIEW v AS SELECT 1"]),
            ("run", ["k", "CREATE TABLE _collegedb_move_journal (x)"]),
            ("batch", ["k", [["sql": "INSERT INTO t VALUES (1)"], ["sql": "COMMIT"]]]),
            ("createSchema", ["CREATE TABLE x (id INTEGER); COMMIT; ATTACH '/tmp/y.db' AS y"]),
        ]
    }

    @Test func refusedStatementsGetStatementRefusedAndTheDaemonKeepsServing() throws {
        let daemon = try Daemon()
        let hostile = try daemon.connect()
        let bystander = try daemon.connect()
        _ = try bystander.result("createSchema", ["CREATE TABLE t (id INTEGER PRIMARY KEY)"])
        for (method, params) in Self.refused {
            let response = try hostile.call(method, params)
            let error = try #require(response["error"] as? [String: Any], "\(method) \(params)")
            #expect(error["code"] as? Int == -32017, "\(method) \(params): \(error)")
            #expect((error["data"] as? [String: Any])?["code"] as? String == "STATEMENT_REFUSED", "\(method) \(params)")
            #expect((error["message"] as? String)?.isEmpty == false)
            #expect((try bystander.result("health") as? [String: Any])?["status"] as? String == "ok")
        }
        #expect(!FileManager.default.fileExists(atPath: "/tmp/stolen.db"))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/x.db"))
        let message = try #require(
            (hostile.call("run", ["k", "BEGIN"])["error"] as? [String: Any])?["message"] as? String
        )
        #expect(message.contains("batch"))
        // Reading settings and the schema is allowed.
        #expect(
            (try hostile.result("first", ["k", "PRAGMA foreign_keys"]) as? [String: Any])?["foreign_keys"] as? Int == 1
        )
        #expect(try hostile.result("all", ["k", "PRAGMA table_info(t)"]) is [String: Any])
        _ = try hostile.result("run", ["k", "INSERT INTO t VALUES (1)"])
        #expect(daemon.process.isRunning)
    }

    @Test func settingsAClientTriedToChangeHoldForEveryLaterCaller() throws {
        let daemon = try Daemon()
        let hostile = try daemon.connect()
        for sql in ["PRAGMA foreign_keys = OFF", "PRAGMA synchronous = OFF", "PRAGMA query_only = 1"] {
            for shard in ["db-1", "db-2", "db-3"] { _ = try hostile.call("runShard", [shard, sql]) }
        }
        let later = try daemon.connect()
        for shard in ["db-1", "db-2", "db-3"] {
            for _ in 0..<8 {
                let row = try #require(later.result("firstShard", [shard, "PRAGMA foreign_keys"]) as? [String: Any])
                #expect(row["foreign_keys"] as? Int == 1)
                let sync = try #require(later.result("firstShard", [shard, "PRAGMA synchronous"]) as? [String: Any])
                #expect(sync["synchronous"] as? Int == 2)
            }
        }
    }

    @Test func anAllowedPragmaRunsAndAConnectionPragmaCannotBeAllowed() throws {
        let daemon = try Daemon(["--allow-pragma", "user_version"])
        let socket = try daemon.connect()
        _ = try socket.result("runShard", ["db-1", "PRAGMA user_version = 7"])
        #expect(
            (try socket.result("firstShard", ["db-1", "PRAGMA user_version"]) as? [String: Any])?["user_version"]
                as? Int == 7
        )
        let refused = try Daemon.runToCompletion([
            "--allow-pragma", "foreign_keys", "--data-dir", "/tmp/never-made-\(UUID())",
        ])
        #expect(refused.status != 0)
        #expect(refused.errors.contains("foreign_keys"))
    }

    @Test func aSlowStatementIsInterruptedAtTheTimeLimit() throws {
        let daemon = try Daemon(["--statement-timeout", "0.5"])
        let socket = try daemon.connect()
        let slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
        let started = Date()
        let error = try #require(socket.call("first", ["k", slow])["error"] as? [String: Any])
        #expect(error["code"] as? Int == -32018)
        #expect((error["data"] as? [String: Any])?["code"] as? String == "STATEMENT_TIMEOUT")
        #expect(Date().timeIntervalSince(started) < 3)
        // A call may ask for less, not more.
        let shorter = Date()
        let own = try #require(socket.call("firstShard", ["db-1", slow, [], 0.1])["error"] as? [String: Any])
        #expect((own["data"] as? [String: Any])?["code"] as? String == "STATEMENT_TIMEOUT")
        #expect(Date().timeIntervalSince(shorter) < 0.45)
        // A slow write leaves nothing behind.
        _ = try socket.result("createSchema", ["CREATE TABLE n (v INTEGER)"])
        let write = "INSERT INTO n WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c"
        let failed = try #require(socket.call("runShard", ["db-1", write])["error"] as? [String: Any])
        #expect((failed["data"] as? [String: Any])?["code"] as? String == "STATEMENT_TIMEOUT")
        #expect(
            (try socket.result("firstShard", ["db-1", "SELECT count(*) AS n FROM n"]) as? [String: Any])?["n"] as? Int
                == 0
        )
        let bad = try #require(socket.call("first", ["k", "SELECT 1", [], -1])["error"] as? [String: Any])
        #expect(bad["code"] as? Int == -32602)
    }

    @Test func aResultTooLargeToHoldIsRefusedWhileItIsRead() throws {
        let daemon = try Daemon()
        let socket = try daemon.connect()
        // 1,000 rows of 1 MB each: a gigabyte if it were collected.
        let huge =
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000) SELECT zeroblob(1000000) FROM c"
        let error = try #require(socket.call("allShard", ["db-1", huge])["error"] as? [String: Any])
        #expect(error["code"] as? Int == -32022)
        #expect((error["data"] as? [String: Any])?["code"] as? String == "RESULT_TOO_LARGE")
        let rss = try LoadLimitTests.residentBytes(of: daemon.process.processIdentifier)
        #expect(rss < 512 << 20, "RSS \(rss >> 20) MiB")
        #expect((try socket.result("health") as? [String: Any])?["status"] as? String == "ok")
    }

    @Test func aFirstWriteThatFailsLeavesNoMapping() throws {
        let daemon = try Daemon()
        let socket = try daemon.connect()
        let error = try #require(
            socket.call("run", ["fresh", "INSERT INTO missing VALUES (1)"])["error"] as? [String: Any]
        )
        #expect((error["data"] as? [String: Any])?["code"] as? String == "QUERY_FAILED")
        #expect(try socket.result("getShardMapping", ["fresh"]) is NSNull)
        let refused = try #require(socket.call("run", ["fresh", "BEGIN"])["error"] as? [String: Any])
        #expect((refused["data"] as? [String: Any])?["code"] as? String == "STATEMENT_REFUSED")
        #expect(try socket.result("getShardMapping", ["fresh"]) is NSNull)
        let stats = try #require(socket.result("getShardStats") as? [[String: Any]])
        #expect(stats.allSatisfy { $0["count"] as? Int == 0 })
        _ = try socket.result("createSchema", ["CREATE TABLE present (v INTEGER)"])
        _ = try socket.result("run", ["fresh", "INSERT INTO present VALUES (1)"])
        #expect(try socket.result("getShardMapping", ["fresh"]) is [String: Any])
    }

    @Test func aSecondDaemonOnTheSameDataDirectoryRefusesToStart() throws {
        let daemon = try Daemon()
        let second = try Daemon.runToCompletion([
            "--data-dir", daemon.directory.appendingPathComponent("data").path,
            "--socket", daemon.directory.appendingPathComponent("other.sock").path,
        ])
        #expect(second.status != 0)
        #expect(second.errors.contains("in use"))
        #expect((try daemon.connect().result("health") as? [String: Any])?["status"] as? String == "ok")
    }
}
