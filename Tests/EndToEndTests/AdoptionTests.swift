import Foundation
import Synchronization
import Testing

/// Drop-in adoption: an existing SQLite database given as a shard has every key of its owned
/// tables mapped to it before the daemon answers, once, without a byte of its data changed;
/// online adoption serves every existing row while it runs; a crash mid-way is resumed.
@Suite(.blocksWhileWaiting, .serialized) struct AdoptionTests {
    /// With a post and an account each, and the smaller tables: over 210,000 rows.
    static let users = 70_000

    static func shardCount(_ socket: LineSocket, _ shard: String) throws -> Int? {
        let stats = try #require(socket.result("getShardStats") as? [[String: Any]])
        return stats.first { $0["binding"] as? String == shard }?["count"] as? Int
    }

    /// The user whose key a test maps to another shard before adopting: a conflict, whose rows
    /// stay unreachable (its reads fail on a shard without the table).
    static let conflictingUser = 42

    /// Reads `count` random existing rows through their keys (never the conflicting user's);
    /// returns the keys that found nothing.
    static func misses(_ socket: LineSocket, count: Int) throws -> [String] {
        var missing: [String] = []
        for _ in 0..<count {
            var user = conflictingUser
            while user == conflictingUser { user = Int.random(in: 1...users) }
            let row = try socket.result("first", ["\(user)", "SELECT name FROM users WHERE id = ?", [user]])
            if (row as? [String: Any])?["name"] as? String != "user \(user)" { missing.append("\(user)") }
            let email = "u\(user)@example.com"
            let account = try socket.result("first", [email, "SELECT plan FROM accounts WHERE email = ?", [email]])
            if (account as? [String: Any])?["plan"] as? String != "free" { missing.append(email) }
        }
        return missing
    }

    @Test func aDatabaseGivenAtStartIsAdoptedBeforeTheFirstAnswerAndOnlyOnce() throws {
        let directory = Daemon.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let legacy = directory.appendingPathComponent("legacy.sqlite").path
        try LegacyDatabase.make(at: legacy, users: Self.users)
        let before = try LegacyDatabase.dump(legacy)
        let arguments = ["--shard", "db-1", "--shard", "legacy=\(legacy)", "--shard", "db-3"] + LegacyDatabase.owners
        var daemon: Daemon? = try Daemon(arguments, directory: directory)
        let socket = try daemon!.connect()

        // The first answer comes after every key was mapped.
        #expect(try Self.shardCount(socket, "legacy") == LegacyDatabase.keyCount(users: Self.users))
        #expect(try Self.misses(socket, count: 200).isEmpty)
        #expect(try socket.result("checkMigrationNeeded", ["legacy"]) as? Bool == false)

        // Each table that was not adopted says why; the WITHOUT ROWID one says what it cannot do.
        func validation(_ table: String, _ column: String? = nil) throws -> [String: Any] {
            try #require(
                socket.result("validateTableForSharding", ["legacy", table] + (column.map { [$0] } ?? []))
                    as? [String: Any]
            )
        }
        let issues = { (result: [String: Any]) in (result["issues"] as? [String] ?? []).joined(separator: " ") }
        let composite = try validation("memberships")
        #expect(
            composite["isValid"] as? Bool == false
                && issues(composite).contains("composite primary key (user_id, group_id)")
        )
        let empty = try validation("audit_log")
        #expect(empty["isValid"] as? Bool == false && issues(empty).contains("empty"))
        let withoutRowID = try validation("tags")
        #expect(withoutRowID["isValid"] as? Bool == true && issues(withoutRowID).contains("WITHOUT ROWID"))
        #expect(issues(try validation("nope")).contains("no table 'nope'"))
        #expect(issues(try validation("users", "uid")).contains("no column 'uid' in 'users'"))
        #expect(try validation("accounts")["keyColumn"] as? String == "email")
        #expect(daemon!.log.contains("adoption: a table is skipped"))
        #expect(
            try socket.result("listTables", ["legacy"]) as? [String]
                == ["accounts", "audit_log", "memberships", "posts", "tags", "users"]
        )

        // Paging the keys is complete.
        var keys: [String] = []
        var cursor: String?
        repeat {
            var params: [Any] = ["legacy", "users", NSNull(), 7_000]
            if let cursor { params.append(cursor) }
            let page = try #require(socket.result("discoverExistingPrimaryKeys", params) as? [String: Any])
            keys += try #require(page["keys"] as? [String])
            cursor = page["cursor"] as? String
        } while cursor != nil
        #expect(keys == (1...Self.users).map(String.init))

        // The second start does not scan again.
        try daemon!.restart()
        #expect(daemon!.log.components(separatedBy: "adopting an existing database before serving").count - 1 == 1)
        let again = try daemon!.connect()
        #expect(try Self.shardCount(again, "legacy") == LegacyDatabase.keyCount(users: Self.users))
        #expect(daemon!.stop() == 0)
        daemon = nil
        #expect(try LegacyDatabase.dump(legacy) == before, "adoption wrote nothing into the file")
    }

    @Test func onlineAdoptionServesEveryExistingRowWhileItRunsAndReportsConflicts() throws {
        let directory = Daemon.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let legacy = directory.appendingPathComponent("legacy.sqlite").path
        try LegacyDatabase.make(at: legacy, users: Self.users)
        let daemon = try Daemon(["--shard", "db-1", "--shard", "db-2"] + LegacyDatabase.owners, directory: directory)
        let socket = try daemon.connect()
        _ = try socket.result("setShardMapping", ["\(Self.conflictingUser)", "db-1"])
        _ = try socket.result("registerShard", ["legacy", legacy])
        #expect(try Self.shardCount(socket, "legacy") == LegacyDatabase.keyCount(users: Self.users) - 1)
        #expect(
            (try socket.result("getShardMapping", ["\(Self.conflictingUser)"]) as? [String: Any])?["shard"] as? String
                == "db-1"
        )
        #expect(daemon.log.contains("mappedTo=db-1"), "the conflict is logged with both shards")

        // Undone: no mapping to the shard is left, and the file is as it was.
        #expect(
            (try socket.result("forgetExistingDatabase", ["legacy"]) as? [String: Any])?["deleted"] as? Int
                == LegacyDatabase.keyCount(users: Self.users) - 1
        )
        #expect(try Self.shardCount(socket, "legacy") == 0)
        #expect(try socket.result("checkMigrationNeeded", ["legacy"]) as? Bool == true)
        let dry = try #require(
            socket.result("integrateExistingDatabase", ["legacy", ["dryRun": true]]) as? [String: Any]
        )
        #expect(dry["mappingsCreated"] as? Int == LegacyDatabase.keyCount(users: Self.users) - 1)
        #expect(dry["conflictCount"] as? Int == 1)
        #expect(try Self.shardCount(socket, "legacy") == 0, "a dry run changes nothing")

        // Online: reads of existing keys that start once the job runs all find their rows.
        let adopter = try daemon.connect()
        let answer = Mutex<String?>(nil)
        let finished = Atomic<Bool>(false)
        try adopter.send(#"{"jsonrpc":"2.0","id":1,"method":"integrateExistingDatabase","params":["legacy"]}"# + "\n")
        let waiter = Thread {
            let line = try? adopter.readLine()
            answer.withLock { $0 = line ?? nil }
            finished.store(true, ordering: .releasing)
        }
        waiter.start()
        try daemon.waitForLog("adoption started", count: 2)
        var missed: [String] = []
        var reads = 0
        while !finished.load(ordering: .acquiring) {
            missed += try Self.misses(socket, count: 10)
            reads += 20
        }
        let line = try #require(answer.withLock { $0 })
        let response = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let adopted = try #require(response["result"] as? [String: Any], "\(response)")
        #expect(reads > 0, "reads ran while the job did")
        #expect(missed.isEmpty, "reads that missed: \(missed.prefix(5))")
        #expect(adopted["mappingsCreated"] as? Int == LegacyDatabase.keyCount(users: Self.users) - 1)
        let conflicts = try #require(adopted["conflicts"] as? [[String: Any]])
        #expect(
            conflicts.first?["key"] as? String == "\(Self.conflictingUser)"
                && conflicts.first?["mappedTo"] as? String == "db-1"
        )
        #expect(try Self.misses(socket, count: 100).isEmpty)
        #expect(daemon.stop() == 0)
    }

    @Test func aDaemonKilledWhileAdoptingFinishesAtTheNextStart() throws {
        let directory = Daemon.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let legacy = directory.appendingPathComponent("legacy.sqlite").path
        try LegacyDatabase.make(at: legacy, users: Self.users)
        let arguments = ["--shard", "db-1", "--shard", "legacy=\(legacy)"] + LegacyDatabase.owners
        let (status, _) = try Daemon.runToCompletion(
            [
                "--data-dir", directory.appendingPathComponent("data").path, "--socket",
                directory.appendingPathComponent("d.sock").path,
            ]
                + arguments,
            environment: ["COLLEGEDB_TEST_KILL_AT": "adoption-chunk"]
        )
        #expect(status == SIGKILL, "the daemon died after its first chunk")
        let daemon = try Daemon(arguments, directory: directory)
        #expect(daemon.log.contains("resuming an interrupted adoption"))
        let socket = try daemon.connect()
        #expect(try Self.shardCount(socket, "legacy") == LegacyDatabase.keyCount(users: Self.users))
        #expect(try Self.shardCount(socket, "db-1") == 0, "no key mapped twice or elsewhere")
        #expect(try Self.misses(socket, count: 100).isEmpty)
        #expect(daemon.stop() == 0)
    }
}
