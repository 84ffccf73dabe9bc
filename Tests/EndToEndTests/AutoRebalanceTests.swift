import Foundation
import Testing

/// Automatic rebalancing (`autoRebalance` in the config): the daemon plans and runs a throttled
/// job by itself when a shard leaves the tolerance, only inside the quiet hours, and says so.
@Suite(.blocksWhileWaiting) struct AutoRebalanceTests {
    /// A config of two shards whose posts belong to their user, rebalanced automatically with
    /// `policy` (members of `autoRebalance`) checked every 0.2 s.
    static func config(_ policy: String) -> String {
        #"{"shards": [{"name": "db-1"}, {"name": "db-2"}], "ownership": {"posts": "user_id"}, "durability": "normal", "#
            + #""autoRebalance": {"checkInterval": 0.2, "minRecords": 100, \#(policy)}}"#
    }

    /// `HH:MM-HH:MM` from `from` to `to` hours after now, in local time.
    static func window(fromHours from: Int, toHours to: Int) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm"
        formatter.timeZone = .current
        func clock(_ hours: Int) -> String { formatter.string(from: Date().addingTimeInterval(Double(hours) * 3600)) }
        return "\(clock(from))-\(clock(to))"
    }

    @Test func aNewShardIsFilledWithoutAnyoneAskingAndThenItStops() throws {
        let directory = Daemon.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("collegedb.json")
        try Self.config(#""rowsPerSecond": null"#).write(to: config, atomically: true, encoding: .utf8)
        let daemon = try Daemon(["--config", config.path, "--log-level", "debug"], directory: directory)
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", [RebalanceFixture.schema])
        let users = 600
        try RebalanceFixture.load(daemon, users: 1...users)
        try daemon.waitForLog("automatic rebalancing: nothing to do")
        #expect(try socket.call("getRebalanceStatus")["result"] is NSNull, "two hashed shards need no plan")

        _ = try socket.result("registerShard", ["db-3"])
        try daemon.waitForLog("automatic rebalancing: started a job")
        let started = try #require(socket.result("getRebalanceStatus") as? [String: Any])
        #expect(started["automatic"] as? Bool == true)
        let planID = try #require(started["planId"] as? Int)
        let status = try RebalanceFixture.waitUntilFinished(socket, plan: planID)
        #expect(status["state"] as? String == "done")
        let moved = try #require(status["recordsMoved"] as? Int)
        #expect(moved > users / 5 && moved < users / 2, "about a third of \(users) records moved: \(moved)")
        try RebalanceFixture.expectEveryRowOnItsMappedShard(socket, users: Set(1...users))
        #expect(try RebalanceFixture.owners(socket, table: "users", column: "id")["db-3"]?.count == moved)

        // Rebalanced: later checks find the shards within tolerance, or each record where
        // rendezvous hashing puts it, and plan nothing.
        let checks = daemon.log.components(separatedBy: "automatic rebalancing: ").count - 1
        try daemon.waitForLog("automatic rebalancing: ", count: checks + 3)
        let latest = try #require(socket.result("getRebalanceStatus") as? [String: Any])
        #expect(latest["planId"] as? Int == planID)
        #expect(daemon.stop() == 0)
    }

    @Test func jobsStartOnlyInTheQuietHoursAndStopWhenTheyClose() throws {
        let directory = Daemon.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("collegedb.json")
        func writeConfig(quietHours: String) throws {
            // One row a second: the job stays in its first batches while the test looks at it.
            try Self.config(#""rowsPerSecond": 1, "quietHours": "\#(quietHours)""#)
                .write(to: config, atomically: true, encoding: .utf8)
        }
        let closed = Self.window(fromHours: 2, toHours: 3)
        try writeConfig(quietHours: closed)
        let daemon = try Daemon(["--config", config.path], directory: directory)
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", [RebalanceFixture.schema])
        let users = 300
        try RebalanceFixture.load(daemon, users: 1...users)
        _ = try socket.result("registerShard", ["db-3"])
        try daemon.waitForLog("waiting for the quiet hours")
        #expect(try socket.call("getRebalanceStatus")["result"] is NSNull, "nothing starts outside \(closed)")

        try writeConfig(quietHours: Self.window(fromHours: -1, toHours: 1))
        daemon.signal(SIGHUP)
        try daemon.waitForLog("automatic rebalancing: started a job")
        let running = try #require(socket.result("getRebalanceStatus") as? [String: Any])
        #expect(running["state"] as? String == "running")
        #expect(running["automatic"] as? Bool == true)
        #expect(running["throttle"] as? Double == 1)

        try writeConfig(quietHours: closed)
        daemon.signal(SIGHUP)
        try daemon.waitForLog("the quiet hours closed")
        let stopped = try #require(socket.result("getRebalanceStatus") as? [String: Any])
        #expect(stopped["planId"] as? Int == running["planId"] as? Int)
        #expect(stopped["state"] as? String == "cancelled")
        try RebalanceFixture.expectEveryRowOnItsMappedShard(socket, users: Set(1...users))
        #expect(daemon.stop() == 0)
    }

    @Test func aBadPolicyIsRefusedWithItsReason() throws {
        let directory = Daemon.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("collegedb.json")
        for (policy, reason) in [
            (#""quietHours": "25:00-02:00""#, "autoRebalance.quietHours must be HH:MM-HH:MM"),
            (#""tolerance": 0.5"#, "autoRebalance.tolerance must be at least 1"),
            (#""rowsPerSecond": 0"#, "autoRebalance.rowsPerSecond must be at least 1"),
            (#""every": 5"#, "autoRebalance: unknown member 'every'"),
        ] {
            try Self.config(policy).write(to: config, atomically: true, encoding: .utf8)
            let (status, errors) = try Daemon.runToCompletion(["--config", config.path])
            #expect(status == 64, "\(policy)")
            #expect(errors.contains(reason), "\(policy): \(errors)")
        }
    }
}
