import Foundation
import Synchronization
import Testing

/// Rebalancing over the socket, the same test code on SQLite shards and on PostgreSQL shards:
/// plans with the fewest moves, jobs that move rows while serving, drains that empty a shard,
/// and recovery from kill -9 at every step. Each test runs its cases one at a time: all 16 at
/// once would starve the latency bounds of the suites that run beside them.
@Suite(.blocksWhileWaiting) struct RebalanceTests {
    @Test(.serialized, arguments: Backend.allCases) func addingAFifthShardMovesAFifthOfTheRecordsAllOntoIt(
        backend: Backend
    ) throws {
        let fleet = try RebalanceFixture.Fleet(backend, shards: 4)
        let daemon = try fleet.daemon()
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", [RebalanceFixture.schema])
        let users = fleet.users(100_000)
        try RebalanceFixture.load(daemon, users: 1...users)
        let before = try #require(socket.result("analyzeShardDistribution") as? [String: Any])
        #expect((before["shards"] as? [[String: Any]])?.map { $0["records"] as? Int ?? 0 }.reduce(0, +) == users)
        #expect((before["shards"] as? [[String: Any]])?.map { $0["rows"] as? Int ?? 0 }.reduce(0, +) == 2 * users)

        try fleet.registerShard("db-5", through: socket)
        let plan = try #require(socket.result("generateRebalancePlan") as? [String: Any])
        let moves = try #require(plan["moves"] as? Int)
        let spread = backend == .sqlite ? 0.02 : 0.05
        #expect(abs(Double(moves) / Double(users) - 0.2) <= spread, "\(moves) of \(users) records move")
        let pairs = try #require(plan["byPair"] as? [[String: Any]])
        #expect(pairs.allSatisfy { $0["to"] as? String == "db-5" }, "every move is onto the new shard: \(pairs)")
        #expect(plan["unmappedRows"] as? Int == 0)

        let planID = try #require(plan["planId"] as? Int)
        let page = try #require(socket.result("listRebalanceMoves", [planID, 2]) as? [String: Any])
        #expect((page["moves"] as? [[String: Any]])?.count == 2)
        #expect((page["moves"] as? [[String: Any]])?.first?["state"] as? String == "pending")
        #expect(page["cursor"] is String)

        let started = try #require(socket.result("executeRebalance", [planID]) as? [String: Any])
        #expect(["running", "done"].contains(started["state"] as? String))
        let status = try RebalanceFixture.waitUntilFinished(socket, plan: planID)
        #expect(status["state"] as? String == "done")
        #expect(status["recordsMoved"] as? Int == moves)
        #expect(status["rowsMoved"] as? Int == 2 * moves)
        #expect(status["skipped"] as? Int == 0)
        print("rebalance onto a fifth \(backend) shard: \(moves) records, \(status["rowsPerSecond"] ?? 0) rows/s")

        try RebalanceFixture.expectEveryRowOnItsMappedShard(socket, users: Set(1...users))
        let stats = try #require(socket.result("getShardStats") as? [[String: Any]])
        let owners = try RebalanceFixture.owners(socket, table: "users", column: "id")
        for entry in stats {
            let shard = try #require(entry["binding"] as? String)
            #expect(entry["count"] as? Int == owners[shard]?.count, "getShardStats is exact for \(shard)")
        }
        #expect(owners["db-5"]?.count == moves)
    }

    @Test(.serialized, arguments: Backend.allCases) func aDrainedShardEndsEmptyWhileWritersLoseNothing(
        backend: Backend
    ) throws {
        let fleet = try RebalanceFixture.Fleet(backend, shards: 4)
        let daemon = try fleet.daemon()
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", [RebalanceFixture.schema])
        let users = fleet.users(20_000)
        try RebalanceFixture.load(daemon, users: 1...users)
        let plan = try #require(socket.result("generateRebalancePlan", [["drain": ["db-2"]]]) as? [String: Any])
        let planID = try #require(plan["planId"] as? Int)
        #expect((plan["byPair"] as? [[String: Any]])?.allSatisfy { $0["from"] as? String == "db-2" } == true)

        let acknowledged = Mutex<[Int: Int]>([:])
        let failures = Mutex<[String]>([])
        let finished = Atomic<Bool>(false)
        let writers = try ClientThreads(daemon, count: 8) { index, writer in
            var serial = 0
            while !finished.load(ordering: .relaxed) || serial < 50 {
                serial += 1
                // Existing users and new ones (allocated on the shards that take new keys).
                let user = serial % 3 == 0 ? users + index * 100_000 + serial : Int.random(in: 1...users)
                let post = 1_000_000_000 + index * 10_000_000 + serial
                let response = try? writer.call(
                    "run",
                    ["\(user)", "INSERT INTO posts VALUES (?, ?, 'written during the drain')", [post, user]]
                )
                if response?["result"] != nil {
                    acknowledged.withLock { $0[post] = user }
                } else {
                    failures.withLock { $0.append("\(response ?? [:])") }
                }
            }
        }
        _ = try socket.result("executeRebalance", [planID])
        let status = try RebalanceFixture.waitUntilFinished(socket, plan: planID)
        finished.store(true, ordering: .relaxed)
        writers.wait()
        #expect(status["state"] as? String == "done")
        #expect(failures.withLock { $0 }.isEmpty, "every write was answered: \(failures.withLock { $0.prefix(3) })")

        let written = acknowledged.withLock { $0 }
        #expect(written.count >= 400)
        #expect(status["skipped"] as? Int == 0, "\(status)")
        var found: [Int: [String]] = [:]
        for shard in try #require(socket.result("listKnownShards") as? [String]) {
            let result = try #require(
                socket.result("allShard", [shard, "SELECT id FROM posts WHERE id >= 1000000000"]) as? [String: Any]
            )
            for row in try #require(result["results"] as? [[String: Any]]) {
                found[try #require(row["id"] as? Int), default: []].append(shard)
            }
        }
        let lost = written.keys.filter { found[$0] == nil }
        #expect(lost.isEmpty, "\(lost.count) acknowledged writes are missing")
        #expect(found.values.allSatisfy { $0.count == 1 }, "no write exists twice")
        for shard in ["db-2"] {
            for table in ["users", "posts"] {
                let count = try #require(
                    socket.result("firstShard", [shard, "SELECT count(*) AS n FROM \(table)"]) as? [String: Any]
                )
                #expect(count["n"] as? Int == 0, "the drained shard has no \(table)")
            }
        }
        try RebalanceFixture.expectEveryRowOnItsMappedShard(socket, users: Set(1...users))
        #expect(try socket.result("unregisterShard", ["db-2"]) as? [String: Any] != nil)
        #expect(try socket.result("listKnownShards") as? [String] == ["db-1", "db-3", "db-4"])
    }

    @Test(.serialized, arguments: Backend.allCases, ["after-intent", "after-copy", "after-flip", "after-delete"])
    func aJobKilledAtAnyStepResumesAndEveryRowExistsOnce(backend: Backend, step: String) throws {
        let directory = Daemon.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let fleet = try RebalanceFixture.Fleet(backend, shards: 4)
        let users = fleet.users(3_000)
        var before: [String] = []
        do {
            let doomed = try fleet.daemon(directory: directory, environment: ["COLLEGEDB_TEST_KILL_AT": step])
            let socket = try doomed.connect()
            _ = try socket.result("createSchema", [RebalanceFixture.schema])
            try RebalanceFixture.load(doomed, users: 1...users)
            try fleet.registerShard("db-5", through: socket)
            before =
                try RebalanceFixture.snapshot(socket, table: "users")
                + RebalanceFixture.snapshot(socket, table: "posts")
            let plan = try #require(socket.result("generateRebalancePlan") as? [String: Any])
            _ = try socket.call("executeRebalance", [try #require(plan["planId"] as? Int)])
            doomed.process.waitUntilExit()
            #expect(doomed.process.terminationReason == .uncaughtSignal, "the daemon died at \(step)")
        }
        let daemon = try fleet.daemon(directory: directory)
        let socket = try daemon.connect()
        let status = try RebalanceFixture.waitUntilFinished(socket, plan: 1)
        #expect(status["state"] as? String == "done", "the job resumed and finished after \(step): \(status)")
        #expect(status["skipped"] as? Int == 0)
        #expect((status["recordsMoved"] as? Int) == (status["records"] as? Int))
        let after =
            try RebalanceFixture.snapshot(socket, table: "users")
            + RebalanceFixture.snapshot(socket, table: "posts")
        #expect(after == before, "no row lost, duplicated or changed after \(step)")
        try RebalanceFixture.expectEveryRowOnItsMappedShard(socket, users: Set(1...users))
        if backend == .sqlite {
            let journal = try socket.call("firstShard", ["db-5", "SELECT count(*) AS n FROM _collegedb_move_journal"])
            #expect(((journal["result"] as? [String: Any])?["n"] as? Int ?? 0) == 0, "the journal is cleared")
        }
    }

    @Test(.serialized, arguments: Backend.allCases) func aRecordMovedBySomeoneElseAfterPlanningIsSkippedNotClobbered(
        backend: Backend
    ) throws {
        let fleet = try RebalanceFixture.Fleet(backend, shards: 2)
        let daemon = try fleet.daemon()
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", [RebalanceFixture.schema])
        try RebalanceFixture.load(daemon, users: 1...200)
        try fleet.registerShard("db-3", through: socket)
        let plan = try #require(socket.result("generateRebalancePlan") as? [String: Any])
        let planID = try #require(plan["planId"] as? Int)
        let page = try #require(socket.result("listRebalanceMoves", [planID, 1]) as? [String: Any])
        let move = try #require((page["moves"] as? [[String: Any]])?.first)
        let digest = try #require(move["key"] as? String)
        let user = try #require((1...200).first { RebalanceFixture.digest(String($0)) == digest })
        let elsewhere = move["from"] as? String == "db-1" ? "db-2" : "db-1"
        _ = try socket.result("reassignShard", ["\(user)", elsewhere])

        let dryRun = try #require(socket.result("executeRebalance", [planID, ["dryRun": true]]) as? [String: Any])
        #expect(dryRun["state"] as? String == "planned", "a dry run changes nothing")
        #expect((dryRun["dryRun"] as? [String: Any])?["skipped"] as? Int == 1)

        _ = try socket.result("executeRebalance", [planID])
        let status = try RebalanceFixture.waitUntilFinished(socket, plan: planID)
        #expect(status["state"] as? String == "done")
        #expect(status["skipped"] as? Int == 1)
        let mapping = try #require(socket.result("getShardMapping", ["\(user)"]) as? [String: Any])
        #expect(mapping["shard"] as? String == elsewhere, "the other mover's choice stands")
        let skipped = try #require(socket.result("listRebalanceMoves", [planID, 1]) as? [String: Any])
        let note = (skipped["moves"] as? [[String: Any]])?.first?["note"] as? String
        #expect(note?.contains("moved to '\(elsewhere)'") == true, "\(String(describing: note))")
        try RebalanceFixture.expectEveryRowOnItsMappedShard(socket, users: Set(1...200))
    }

    @Test(.serialized, arguments: Backend.allCases) func aCancelledJobStopsWithEveryRecordWholeAndCanResume(
        backend: Backend
    ) throws {
        let fleet = try RebalanceFixture.Fleet(backend, shards: 3)
        let daemon = try fleet.daemon()
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", [RebalanceFixture.schema])
        try RebalanceFixture.load(daemon, users: 1...2_000)
        let plan = try #require(socket.result("generateRebalancePlan", [["drain": ["db-3"]]]) as? [String: Any])
        let planID = try #require(plan["planId"] as? Int)
        _ = try socket.result("executeRebalance", [planID, ["rowsPerSecond": 200]])
        let running = try #require(socket.result("getRebalanceStatus") as? [String: Any])
        #expect(running["state"] as? String == "running")
        #expect(running["throttle"] as? Double == 200)
        let cancelled = try #require(socket.result("cancelRebalance", [planID]) as? [String: Any])
        #expect(cancelled["state"] as? String == "cancelled")
        #expect((cancelled["recordsMoved"] as? Int ?? 0) < (cancelled["records"] as? Int ?? 0), "throttled: not done")
        try RebalanceFixture.expectEveryRowOnItsMappedShard(socket, users: Set(1...2_000))
        let busy = try socket.call("unregisterShard", ["db-3"])
        #expect(((busy["error"] as? [String: Any])?["data"] as? [String: Any])?["code"] as? String == "SHARD_NOT_EMPTY")

        _ = try socket.result("executeRebalance", [planID])
        let status = try RebalanceFixture.waitUntilFinished(socket, plan: planID)
        #expect(status["state"] as? String == "done")
        #expect(try socket.result("unregisterShard", ["db-3"]) as? [String: Any] != nil)
        let unknown = try socket.call("getRebalanceStatus", [999])
        #expect(
            ((unknown["error"] as? [String: Any])?["data"] as? [String: Any])?["code"] as? String == "PLAN_NOT_FOUND"
        )
    }
}
