import Foundation
import Testing

/// A plan says `done` only when it is: the schema every new user writes, posts numbered from 1
/// on each shard, cannot be drained (every moving post's id is taken on the target), and the
/// plan must end `failed` naming the table and column, with every row still there once.
@Suite(.blocksWhileWaiting) struct HonestRebalanceTests {
    static let schema: [Backend: String] = [
        .sqlite: """
        CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT);
        CREATE TABLE posts (pid INTEGER PRIMARY KEY, user_id TEXT, body TEXT);
        """,
        .postgres: """
        CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT);
        CREATE TABLE posts (pid BIGSERIAL PRIMARY KEY, user_id TEXT, body TEXT);
        """,
    ]

    @Test(arguments: [Backend.sqlite, .postgres])
    func aDrainWhosePostsCollideEndsFailedNamingThemAndLosesNothing(backend: Backend) throws {
        let (daemon, _) = try backend.daemon(["--owner", "posts=user_id"])
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", [Self.schema[backend] ?? ""])
        let users = backend == .sqlite ? 300 : 60
        try UsersWithPosts.load(socket, users: users, postKey: nil)
        let before = try rows(socket)
        let plan = try #require(socket.result("generateRebalancePlan", [["drain": ["db-2"]]]) as? [String: Any])
        let planID = try #require(plan["planId"] as? Int)
        // The plan and the dry run say beforehand what will not move, and change nothing.
        let planned = try #require(plan["conflicts"] as? [[String: Any]])
        #expect(planned.map { $0["table"] as? String } == ["posts"], "\(planned)")
        let dryRun = try #require(socket.result("executeRebalance", [planID, ["dryRun": true]]) as? [String: Any])
        let conflicts = try #require(dryRun["conflicts"] as? [[String: Any]])
        #expect(conflicts.first?["rows"] as? Int == planned.first?["rows"] as? Int)
        #expect(conflicts.count == 1, "\(conflicts)")
        #expect(conflicts.first?["table"] as? String == "posts")
        #expect(conflicts.first?["column"] as? String == "pid")
        #expect((conflicts.first?["rows"] as? Int ?? 0) > 0)
        #expect((dryRun["dryRun"] as? [String: Any])?["conflicts"] as? [[String: Any]] != nil)
        #expect(dryRun["state"] as? String == "planned")
        _ = try socket.result("executeRebalance", [planID])
        let status = try waitForEnd(socket, planID)
        #expect(status["state"] as? String == "failed", "\(status)")
        let errors = (status["errors"] as? [String] ?? []).joined(separator: "\n")
        #expect(errors.contains("could not move"), "\(errors)")
        #expect(errors.contains("posts"), "\(errors)")
        #expect(errors.contains("still holds"), "\(errors)")
        #expect(try rows(socket) == before, "every row is still there, once")
        #expect(daemon.process.isRunning)
    }

    @Test func aCopyThatDiffersFromItsSourceFailsItsBatchAndDeletesNothing() throws {
        // The test hook leaves the last row of every copy out.
        let daemon = try Daemon(["--owner", "posts=user_id"], environment: ["COLLEGEDB_TEST_CORRUPT_COPY": "1"])
        let socket = try daemon.connect()
        _ = try socket.result(
            "createSchema",
            [
                "CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT); CREATE TABLE posts (pid INTEGER PRIMARY KEY, user_id TEXT, body TEXT);"
            ]
        )
        try UsersWithPosts.load(socket, users: 100, postKey: "collegedb_id()")
        let before = try rows(socket)
        let onDrained = try #require(
            socket.result("firstShard", ["db-2", "SELECT count(*) AS n FROM posts"]) as? [String: Any]
        )
        let plan = try #require(socket.result("generateRebalancePlan", [["drain": ["db-2"]]]) as? [String: Any])
        let planID = try #require(plan["planId"] as? Int)
        _ = try socket.result("executeRebalance", [planID])
        let status = try waitForEnd(socket, planID)
        #expect(status["state"] as? String == "failed", "\(status)")
        #expect(status["recordsMoved"] as? Int == 0, "\(status)")
        let errors = (status["errors"] as? [String] ?? []).joined(separator: "\n")
        #expect(errors.contains("differs from its source"), "\(errors)")
        #expect(try rows(socket) == before, "every row is still there, once")
        let left = try #require(
            socket.result("firstShard", ["db-2", "SELECT count(*) AS n FROM posts"]) as? [String: Any]
        )
        #expect(left["n"] as? Int == onDrained["n"] as? Int)
    }

    @Test(.serialized, arguments: Backend.allCases) func aCopyThatTheTargetChangesFailsItsBatchAndDeletesNothing(
        backend: Backend
    ) throws {
        let (daemon, _) = try backend.daemon(["--owner", "posts=user_id"])
        let socket = try daemon.connect()
        let postKey = backend == .postgres ? "BIGINT" : "INTEGER"
        _ = try socket.result(
            "createSchema",
            [
                "CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT); CREATE TABLE posts (pid \(postKey) PRIMARY KEY, user_id TEXT, body TEXT);"
            ]
        )
        try UsersWithPosts.load(socket, users: 40, postKey: "collegedb_id()")
        // A trigger on the targets changes every post inserted there: the copy is not the source.
        let tamper =
            backend == .postgres
            ? """
            CREATE FUNCTION tamper() RETURNS trigger AS $$
            BEGIN NEW.body := NEW.body || ' (changed)'; RETURN NEW; END $$ LANGUAGE plpgsql;
            CREATE TRIGGER tamper BEFORE INSERT ON posts FOR EACH ROW EXECUTE FUNCTION tamper();
            """
            : """
            CREATE TRIGGER tamper AFTER INSERT ON posts BEGIN
                UPDATE posts SET body = NEW.body || ' (changed)' WHERE pid = NEW.pid;
            END;
            """
        for shard in ["db-1", "db-3"] {
            _ = try socket.result("createSchema", [tamper, shard])
        }
        let before = try rows(socket)
        let plan = try #require(socket.result("generateRebalancePlan", [["drain": ["db-2"]]]) as? [String: Any])
        let planID = try #require(plan["planId"] as? Int)
        #expect((plan["moves"] as? Int ?? 0) > 0)
        _ = try socket.result("executeRebalance", [planID])
        let status = try waitForEnd(socket, planID)
        #expect(status["state"] as? String == "failed", "\(status)")
        let errors = (status["errors"] as? [String] ?? []).joined(separator: "\n")
        #expect(errors.contains("differs from its source"), "\(errors)")
        #expect(try rows(socket) == before, "every row is still there, once, unchanged")
    }

    /// Every user and post on every shard, as sorted text.
    private func rows(_ socket: LineSocket) throws -> [String] {
        var rows: [String] = []
        for shard in try #require(socket.result("listKnownShards") as? [String]) {
            for table in ["users", "posts"] {
                let result = try #require(
                    socket.result("allShard", [shard, "SELECT * FROM \(table)"]) as? [String: Any]
                )
                for row in try #require(result["results"] as? [[String: Any]]) {
                    rows.append(table + ":" + row.keys.sorted().map { "\($0)=\(row[$0] ?? "")" }.joined(separator: ","))
                }
            }
        }
        return rows.sorted()
    }

    private func waitForEnd(_ socket: LineSocket, _ planID: Int) throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            let status = try #require(socket.result("getRebalanceStatus", [planID]) as? [String: Any])
            if !["running", "planned"].contains(status["state"] as? String) { return status }
            usleep(50_000)
        }
        throw LineSocket.Failure(description: "plan \(planID) did not end within 120 s")
    }
}
