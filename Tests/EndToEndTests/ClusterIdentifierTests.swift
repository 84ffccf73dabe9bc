import Foundation
import Synchronization
import Testing

/// `collegedb_id()`: ids unique across every shard, connection, restart and daemon of a
/// catalog, so that rows keyed by them drain where per-shard numbers cannot.
@Suite(.blocksWhileWaiting) struct ClusterIdentifierTests {
    /// Takes `calls` batches of ids (one `sql` each) through `daemons`' connections, `connections`
    /// a daemon, spread over `shards`, and returns them all.
    private func ids(
        from daemons: [Daemon],
        shards: [String],
        connections: Int,
        calls: Int,
        sql: String
    ) throws -> [Int64] {
        let found = Mutex<[Int64]>([])
        let failures = Mutex<[String]>([])
        let threads = try daemons.map { daemon in
            try ClientThreads(daemon, count: connections) { thread, socket in
                for call in 0..<calls {
                    let shard = shards[(thread + call) % shards.count]
                    do {
                        let result = try socket.resultAfterOverload("allShard", [shard, sql]) as? [String: Any]
                        let rows = result?["results"] as? [[String: Any]] ?? []
                        let values = rows.compactMap { ($0["id"] as? NSNumber)?.int64Value }
                        found.withLock { $0 += values }
                    } catch {
                        failures.withLock { $0.append("\(error)") }
                    }
                }
            }
        }
        for thread in threads { thread.wait() }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0.prefix(3) })")
        return found.withLock { $0 }
    }

    @Test func aMillionIdsFromSixteenConnectionsOnThreeSQLiteShardsAndARestartNeverRepeat() throws {
        // 2,000 ids a call: short calls, so that 16 connections of a debug build sharing 2 busy
        // cores with other tests never wait out a client's read timeout behind each other (a
        // shard's long-read lane answers OVERLOADED past its queue, and the call is made again).
        let daemon = try Daemon(["--statement-timeout", "120"])
        let sql = """
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
            SELECT collegedb_id() AS id FROM n
            """
        let shards = ["db-1", "db-2", "db-3"]
        var all = try ids(from: [daemon], shards: shards, connections: 16, calls: 30, sql: sql)
        try daemon.restart()
        all += try ids(from: [daemon], shards: shards, connections: 4, calls: 10, sql: sql)
        #expect(all.count == 1_040_000)
        #expect(Set(all).count == all.count, "no id twice")
        #expect(all.allSatisfy { $0 >= 1 << 47 }, "no id below the first node")
    }

    @Test func aMillionIdsFromTwoDaemonsOfOneCatalogOnThreePostgreSQLShardsNeverRepeat() throws {
        let server = try PostgresServer.shared()
        let flags = try server.shardFlags(count: 3) + ["--catalog", server.url(try server.makeDatabase())]
        let first = try Daemon(flags, environment: server.environment)
        let second = try Daemon(flags, environment: server.environment)
        let sql = "SELECT collegedb_id() AS id FROM generate_series(1, 2000)"
        let shards = ["db-1", "db-2", "db-3"]
        let all = try ids(from: [first, second], shards: shards, connections: 8, calls: 35, sql: sql)
        #expect(all.count == 1_120_000)
        #expect(Set(all).count == all.count, "no id twice")
        // Each shard's ids carry a node of its own.
        #expect(Set(all.map { $0 >> 47 }).count == 3)
    }

    /// Every post on every shard, as sorted text.
    private func posts(_ socket: LineSocket) throws -> [String] {
        var rows: [String] = []
        for shard in try #require(socket.result("listKnownShards") as? [String]) {
            let result = try #require(
                socket.result("allShard", [shard, "SELECT pid, user_id, body FROM posts"]) as? [String: Any]
            )
            for row in try #require(result["results"] as? [[String: Any]]) {
                rows.append("\(row["pid"] ?? "")|\(row["user_id"] ?? "")|\(row["body"] ?? "")")
            }
        }
        return rows.sorted()
    }

    @Test(arguments: [Backend.sqlite, .postgres])
    func rowsKeyedByCollegeDBIdDrainToAnEmptyShardWhileWritersAddMore(backend: Backend) throws {
        let (daemon, _) = try backend.daemon(["--owner", "posts=user_id"])
        let socket = try daemon.connect()
        _ = try socket.result(
            "createSchema",
            [
                """
                CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT);
                CREATE TABLE posts (pid BIGINT PRIMARY KEY, user_id TEXT, body TEXT);
                """
            ]
        )
        let users = backend == .sqlite ? 300 : 60
        try UsersWithPosts.load(socket, users: users, postKey: "collegedb_id()")
        let before = try posts(socket)
        let plan = try #require(socket.result("generateRebalancePlan", [["drain": ["db-2"]]]) as? [String: Any])
        let planID = try #require(plan["planId"] as? Int)
        #expect((plan["conflicts"] as? [Any])?.isEmpty == true, "\(plan)")
        let dryRun = try #require(socket.result("executeRebalance", [planID, ["dryRun": true]]) as? [String: Any])
        #expect((dryRun["conflicts"] as? [Any])?.isEmpty == true, "\(dryRun)")

        // Four connections add posts to existing users while the drain runs.
        let acknowledged = Mutex<[String]>([])
        let failures = Mutex<[String]>([])
        let finished = Atomic<Bool>(false)
        let writers = try ClientThreads(daemon, count: 4) { thread, writer in
            var serial = 0
            while !finished.load(ordering: .relaxed) || serial < 20 {
                serial += 1
                let user = "u\(Int.random(in: 0..<users))"
                let body = "written during the drain \(thread)-\(serial)"
                do {
                    _ = try writer.resultAfterOverload(
                        "run",
                        [user, "INSERT INTO posts (pid, user_id, body) VALUES (collegedb_id(), ?, ?)", [user, body]]
                    )
                    acknowledged.withLock { $0.append(body) }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        _ = try socket.result("executeRebalance", [planID])
        var status: [String: Any] = [:]
        let deadline = Date().addingTimeInterval(120)
        repeat {
            usleep(50_000)
            status = try #require(socket.result("getRebalanceStatus", [planID]) as? [String: Any])
        } while ["running", "planned"].contains(status["state"] as? String) && Date() < deadline
        finished.store(true, ordering: .relaxed)
        writers.wait()
        #expect(status["state"] as? String == "done", "\(status)")
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0.prefix(3) })")
        let left = try #require(
            socket.result("firstShard", ["db-2", "SELECT count(*) AS n FROM posts"]) as? [String: Any]
        )
        #expect((left["n"] as? NSNumber)?.intValue == 0, "the drained shard holds no post")
        let after = try posts(socket)
        let written = acknowledged.withLock { $0 }
        #expect(written.count >= 80)
        #expect(Set(before).isSubset(of: Set(after)), "every post from before is still there")
        #expect(after.count == before.count + written.count, "every acknowledged post exists once, none twice")
        let bodies = after.map { $0.split(separator: "|", maxSplits: 2).last.map(String.init) ?? "" }
        #expect(Set(written).isSubset(of: Set(bodies)), "no acknowledged post is lost")
    }
}
