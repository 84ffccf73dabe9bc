import Foundation
import GRDB
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Online backups: made while writers and a rebalance run, started on as a data directory, all
/// or nothing through kill -9, refused where they would overwrite.
@Suite(.blocksWhileWaiting, .serialized) struct BackupTests {
    /// A new directory whose `data` is where a backup goes, so that `Daemon(directory:)` starts
    /// on the backup.
    private func restoreDirectory() -> (directory: URL, backup: String) {
        let directory = Daemon.makeDirectory()
        return (directory, directory.appendingPathComponent("data").path)
    }

    @Test func aBackupUnderFourWritersRestoresEveryAcknowledgedWriteOnceWithItsMapping() throws {
        let daemon = try Daemon(RebalanceFixture.arguments(shards: 3))
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", [RebalanceFixture.schema])
        try RebalanceFixture.load(daemon, users: 1...500)
        let acknowledged = Mutex<[Int: Int]>([:])
        let failures = Mutex<[String]>([])
        let finished = Atomic<Bool>(false)
        let writers = try ClientThreads(daemon, count: 4) { index, writer in
            var serial = 0
            while !finished.load(ordering: .relaxed) {
                serial += 1
                // Existing users and new ones, whose first write maps them during the backup.
                let user = serial % 4 == 0 ? 1_000 + index * 100_000 + serial : Int.random(in: 1...500)
                let post = 10_000_000 + index * 1_000_000 + serial
                let response = try? writer.call(
                    "batch",
                    [
                        "\(user)",
                        [
                            ["sql": "INSERT OR IGNORE INTO users VALUES (?, 'new')", "bindings": [user]],
                            ["sql": "INSERT INTO posts VALUES (?, ?, 'during the backup')", "bindings": [post, user]],
                        ],
                    ]
                )
                if response?["result"] != nil {
                    acknowledged.withLock { $0[post] = user }
                } else {
                    failures.withLock { $0.append("\(response ?? [:])") }
                }
            }
        }
        usleep(300_000)
        let (restore, path) = restoreDirectory()
        let before = acknowledged.withLock { $0 }
        let backup = try #require(socket.result("backup", [path]) as? [String: Any])
        usleep(200_000)
        finished.store(true, ordering: .relaxed)
        writers.wait()
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0.prefix(3) })")
        #expect(before.count > 50, "writes ran before the backup")
        #expect(backup["directory"] as? String == path)
        #expect(backup["shards"] as? [String] == ["db-1", "db-2", "db-3"])
        #expect(backup["skipped"] as? [String] == [])
        #expect((backup["bytes"] as? Int ?? 0) > 0 && backup["seconds"] is Double)

        let restored = try Daemon(RebalanceFixture.arguments(shards: 3), directory: restore)
        let check = try restored.connect()
        let posts = try RebalanceFixture.owners(check, table: "posts", column: "id")
        var shardOfPost: [Int: [String]] = [:]
        for (shard, ids) in posts { for id in ids { shardOfPost[id, default: []].append(shard) } }
        let missing = before.keys.filter { shardOfPost[$0] == nil }
        #expect(missing.isEmpty, "\(missing.count) writes acknowledged before the backup are missing")
        #expect(shardOfPost.values.allSatisfy { $0.count == 1 }, "no post twice")
        // Every user row and post in the backup is on the shard its key maps to there.
        let users = try RebalanceFixture.owners(check, table: "users", column: "id").values.flatMap { $0 }
        try RebalanceFixture.expectEveryRowOnItsMappedShard(check, users: Set(users))
    }

    @Test func aBackupDuringARebalanceRestoresWithNoRecordSplit() throws {
        let daemon = try Daemon(RebalanceFixture.arguments(shards: 3))
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", [RebalanceFixture.schema])
        try RebalanceFixture.load(daemon, users: 1...6_000)
        _ = try socket.result("registerShard", ["db-4"])
        let plan = try #require(socket.result("generateRebalancePlan", [[:] as [String: Any]]) as? [String: Any])
        let planID = try #require(plan["planId"] as? Int)
        _ = try socket.result("executeRebalance", [planID, ["rowsPerSecond": 4_000]])
        usleep(500_000)
        let (restore, path) = restoreDirectory()
        _ = try socket.result("backup", [path])
        let status = try #require(socket.result("getRebalanceStatus", [planID]) as? [String: Any])
        #expect(status["state"] as? String == "running", "the backup ran in the middle of the plan: \(status)")
        _ = try socket.result("cancelRebalance", [planID])

        // The backup holds the plan as it ran: the restored daemon resumes it and finishes it.
        let restored = try Daemon(RebalanceFixture.arguments(shards: 3), directory: restore)
        let check = try restored.connect()
        #expect(try check.result("listKnownShards") as? [String] == ["db-1", "db-2", "db-3", "db-4"])
        _ = try check.result("executeRebalance", [planID])
        #expect(try RebalanceFixture.waitUntilFinished(check, plan: planID)["state"] as? String == "done")
        try RebalanceFixture.expectEveryRowOnItsMappedShard(check, users: Set(1...6_000))
    }

    @Test func aBackupKilledBeforeItsRenameLeavesNoDirectoryAndTheNextStartRemovesItsLeftovers() throws {
        let daemon = try Daemon(environment: ["COLLEGEDB_TEST_KILL_AT": "backup-copied"])
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", ["CREATE TABLE notes (id TEXT PRIMARY KEY)"])
        let parent = Daemon.makeDirectory()
        defer { try? FileManager.default.removeItem(at: parent) }
        let path = parent.appendingPathComponent("nightly").path
        #expect(throws: (any Error).self) { try socket.result("backup", [path]) }
        #expect(!FileManager.default.fileExists(atPath: path), "no backup at the path")
        let left = try FileManager.default.contentsOfDirectory(atPath: parent.path)
        #expect(left.count == 1 && left.first?.hasPrefix(".nightly.collegedb-backup-") == true, "\(left)")
        try daemon.restart()
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path).isEmpty, "the start removed it")
        #expect(try daemon.connect().result("health") is [String: Any])
    }

    @Test func pathsThatAreRelativeExistOrLieInsideTheDataDirectoryAreRefusedAndLeftUntouched() throws {
        let daemon = try Daemon()
        let socket = try daemon.connect()
        let parent = Daemon.makeDirectory()
        defer { try? FileManager.default.removeItem(at: parent) }
        let existing = parent.appendingPathComponent("existing")
        try FileManager.default.createDirectory(at: existing, withIntermediateDirectories: false)
        try Data("keep".utf8).write(to: existing.appendingPathComponent("file"))
        try FileManager.default.createSymbolicLink(
            at: parent.appendingPathComponent("link-to-data"),
            withDestinationURL: daemon.directory.appendingPathComponent("data")
        )
        for (path, message) in [
            (existing.path, "exists already"),
            ("relative/backup", "absolute path"),
            (daemon.directory.appendingPathComponent("data/backup").path, "outside the data directory"),
            (parent.appendingPathComponent("no/such/parent").path, "parent"),
            (parent.appendingPathComponent("bad\nname").path, "control characters"),
            (parent.appendingPathComponent("link-to-data/backup").path, "outside the data directory"),
            (parent.appendingPathComponent(String(repeating: "n", count: 240)).path, "too long"),
        ] {
            let response = try socket.call("backup", [path])
            let error = try #require(response["error"] as? [String: Any], "\(path)")
            #expect(error["code"] as? Int == -32602)
            #expect((error["message"] as? String)?.contains(message) == true, "\(error)")
        }
        let unknown = try socket.call("backup", [parent.appendingPathComponent("b").path, ["compress": true]])
        #expect((unknown["error"] as? [String: Any])?["code"] as? Int == -32602)
        #expect(try String(contentsOf: existing.appendingPathComponent("file"), encoding: .utf8) == "keep")
        #expect(try FileManager.default.contentsOfDirectory(atPath: existing.path) == ["file"])
    }

    @Test func aBackupHoldsNoPathOfItsOwnAndOnlyItsOwnerMayReadIt() throws {
        let daemon = try Daemon()
        let socket = try daemon.connect()
        let custom = daemon.directory.appendingPathComponent("data/custom/c.sqlite").path
        _ = try socket.result("registerShard", ["custom", custom])
        _ = try socket.result("createSchema", ["CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT)"])
        _ = try socket.result("allShard", ["custom", "INSERT INTO notes VALUES ('n', 'before')"])
        let (restore, path) = restoreDirectory()
        _ = try socket.result("backup", [path])
        var status = stat()
        #expect(stat(path, &status) == 0 && status.st_mode & 0o777 == 0o700)
        for file in ["mapping.sqlite", "shards/custom.sqlite", "shards/db-1.sqlite"] {
            #expect(stat(path + "/" + file, &status) == 0 && status.st_mode & 0o777 == 0o600, "\(file)")
        }
        #expect(stat(path + "/shards", &status) == 0 && status.st_mode & 0o777 == 0o700)
        // Moved elsewhere whole, the backup serves its own copy of every shard.
        let moved = Daemon.makeDirectory()
        defer { try? FileManager.default.removeItem(at: moved) }
        try FileManager.default.copyItem(
            at: restore.appendingPathComponent("data"),
            to: moved.appendingPathComponent("data")
        )
        let restored = try Daemon(directory: moved)
        let check = try restored.connect()
        let row = try #require(check.result("firstShard", ["custom", "SELECT body FROM notes"]) as? [String: Any])
        #expect(row["body"] as? String == "before")
        _ = try check.result("allShard", ["custom", "UPDATE notes SET body = 'after'"])
        let untouched = try DatabaseQueue(path: path + "/shards/custom.sqlite")
        #expect(try untouched.read { try String.fetchOne($0, sql: "SELECT body FROM notes") } == "before")
        try untouched.close()
    }
}
