import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Writes that arrive together share one transaction; each call still succeeds or fails alone,
/// and no acknowledged write is lost.
@Suite(.blocksWhileWaiting) struct GroupCommitTests {
    @Test func aFailingCallInAGroupFailsAloneAndTheOthersCommit() throws {
        let daemon = try Daemon(["--shard", "db-1", "--statement-timeout", "0.3"])
        let setup = try daemon.connect()
        _ = try setup.result("createSchema", ["CREATE TABLE t (id INTEGER PRIMARY KEY, by INTEGER)"])
        _ = try setup.result("run", ["k", "INSERT INTO t VALUES (0, -1)"])
        let outcomes = Mutex<[String: Int]>([:])
        try ClientThreads(daemon, count: 16) { connection, socket in
            for round in 0..<20 {
                let id = connection * 1000 + round
                let sql: String
                switch round % 5 {
                case 0: sql = "INSERT INTO t VALUES (0, \(connection))"  // a duplicate: fails alone
                case 1 where connection == 0:  // a write that runs past the time limit
                    sql =
                        "INSERT INTO t SELECT x + 100000000, 0 FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c)"
                default: sql = "INSERT INTO t VALUES (\(id), \(connection))"
                }
                let response = try? socket.call("run", ["k", sql])
                let code = ((response?["error"] as? [String: Any])?["data"] as? [String: Any])?["code"] as? String
                outcomes.withLock { $0[code ?? (response == nil ? "no answer" : "ok"), default: 0] += 1 }
            }
        }.wait()
        let seen = outcomes.withLock { $0 }
        #expect(seen["QUERY_FAILED"] == 16 * 4, "\(seen)")
        #expect(seen["STATEMENT_TIMEOUT"] == 4, "\(seen)")
        #expect(seen["ok"] == 16 * 20 - 16 * 4 - 4, "\(seen)")
        let count = try #require(setup.result("first", ["k", "SELECT count(*) AS n FROM t"]) as? [String: Any])
        #expect(count["n"] as? Int == 1 + (seen["ok"] ?? 0), "every acknowledged write, and nothing else")
    }

    @Test func killNineUnderWriteLoadLosesNoAcknowledgedWrite() throws {
        let daemon = try Daemon(["--shard", "db-1", "--shard", "db-2"])
        let setup = try daemon.connect()
        _ = try setup.result("createSchema", ["CREATE TABLE w (id INTEGER PRIMARY KEY)"])
        let acknowledged = Mutex<[Int]>([])
        let stop = Atomic(false)
        let writers = try ClientThreads(daemon, count: 8) { connection, socket in
            var id = connection
            while !stop.load(ordering: .relaxed) {
                guard let response = try? socket.call("run", ["key-\(id % 50)", "INSERT INTO w VALUES (?)", [id]])
                else {
                    return
                }
                if response["result"] != nil { acknowledged.withLock { $0.append(id) } }
                id += 8
            }
        }
        Thread.sleep(forTimeInterval: 1.5)
        daemon.signal(SIGKILL)
        stop.store(true, ordering: .relaxed)
        writers.wait()
        try daemon.restart()
        let ids = acknowledged.withLock { $0 }
        #expect(ids.count > 100, "the load ran")
        let socket = try daemon.connect()
        var stored = Set<Int>()
        for shard in ["db-1", "db-2"] {
            let rows = try #require(socket.result("allShard", [shard, "SELECT id FROM w"]) as? [String: Any])
            for row in rows["results"] as? [[String: Any]] ?? [] { stored.insert(row["id"] as! Int) }
        }
        let lost = Set(ids).subtracting(stored)
        #expect(lost.isEmpty, "\(lost.count) acknowledged writes lost of \(ids.count)")
    }
}
