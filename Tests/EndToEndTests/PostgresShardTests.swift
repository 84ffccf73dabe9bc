import Foundation
import Testing

/// What only PostgreSQL shards have: their types, their refusals, a server that goes away and
/// comes back, and mixing them with SQLite shards.
@Suite(.blocksWhileWaiting) struct PostgresShardTests {
    private func errorCode(_ response: [String: Any]) -> String? {
        ((response["error"] as? [String: Any])?["data"] as? [String: Any])?["code"] as? String
    }

    @Test func valuesMapBothWaysAsDocumented() throws {
        let (daemon, _) = try Backend.postgres.daemon()
        let socket = try daemon.connect()
        _ = try socket.result(
            "createSchema",
            [
                """
                CREATE TABLE v (id TEXT PRIMARY KEY, big BIGINT, small SMALLINT, real DOUBLE PRECISION,
                  exact NUMERIC(20, 4), flag BOOLEAN, at TIMESTAMPTZ, local TIMESTAMP, day DATE, doc JSONB,
                  plain JSON, bytes BYTEA, nothing TEXT, uid UUID, span INTERVAL);
                -- a comment with a ; inside, and a function whose body has them too
                CREATE FUNCTION twice(x BIGINT) RETURNS BIGINT AS $body$ SELECT x * 2; $body$ LANGUAGE sql;
                """
            ]
        )
        _ = try socket.result(
            "run",
            [
                "v1",
                """
                INSERT INTO v VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    "v1", Int64.max, -7, 0.5, "12345678901234.5678", true, "2026-12-01T10:20:30.25Z",
                    "2026-12-01 10:20:30", "2026-02-28", "{\"a\": [1, 2, {\"b\": null}]}", "[1,\"two\"]",
                    ["$blob": "AAEC/w=="], NSNull(), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "1 day 02:03:04.5",
                ],
            ]
        )
        let row = try #require(
            socket.result("first", ["v1", "SELECT * FROM v WHERE id = ?", ["v1"]]) as? [String: Any]
        )
        #expect((row["big"] as? NSNumber)?.int64Value == Int64.max)
        #expect(row["small"] as? Int == -7)
        #expect(row["real"] as? Double == 0.5)
        #expect(row["exact"] as? String == "12345678901234.5678")
        #expect(row["flag"] as? Bool == true)
        #expect(row["at"] as? String == "2026-12-01T10:20:30.25Z")
        #expect(row["local"] as? String == "2026-12-01T10:20:30")
        #expect(row["day"] as? String == "2026-02-28")
        let document = try #require(row["doc"] as? [String: Any])
        #expect((document["a"] as? [Any])?.count == 3)
        #expect((row["plain"] as? [Any])?.last as? String == "two")
        #expect((row["bytes"] as? [String: Any])?["$blob"] as? String == "AAEC/w==")
        #expect(row["nothing"] is NSNull)
        #expect(row["uid"] as? String == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
        #expect(row["span"] as? String == "P1DT2H3M4.5S")
        let computed = try #require(
            socket.result(
                "first",
                ["v1", "SELECT twice(big / 4) AS t, -0.5::numeric AS half, 0::numeric AS zero FROM v"]
            )
                as? [String: Any]
        )
        #expect((computed["t"] as? NSNumber)?.int64Value == (Int64.max / 4) * 2)
        #expect(computed["half"] as? String == "-0.5")
        #expect(computed["zero"] as? String == "0")
        // `$n` placeholders work as they are, and a `?` inside a literal is left alone.
        let dollar = try #require(
            socket.result("first", ["v1", "SELECT '?' AS q, $1::text AS p", ["x"]]) as? [String: Any]
        )
        #expect(dollar["q"] as? String == "?")
        #expect(dollar["p"] as? String == "x")
        // A type the daemon does not return is refused with the advice to cast it.
        let unsupported = try socket.call("first", ["v1", "SELECT '127.0.0.1'::inet AS address"])
        #expect(errorCode(unsupported) == "QUERY_FAILED")
        #expect(((unsupported["error"] as? [String: Any])?["message"] as? String)?.contains("::text") == true)
    }

    @Test func sessionStateIsRefusedAndAKeysRowsMoveBetweenShards() throws {
        let (daemon, _) = try Backend.postgres.daemon(["--owner", "posts=owner"])
        let socket = try daemon.connect()
        _ = try socket.result(
            "createSchema",
            [
                """
                CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT);
                CREATE TABLE counters (id INTEGER PRIMARY KEY);
                CREATE TABLE posts (n INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY, owner TEXT, body BYTEA);
                """
            ]
        )
        _ = try socket.result("run", ["u", "INSERT INTO users VALUES ('u', 'Ada')"])
        for refused in [
            "SET search_path TO pg_catalog", "RESET ALL", "DISCARD ALL", "LISTEN x", "CREATE TEMP TABLE t (x int)",
            "COPY users TO STDOUT", "VACUUM", "PREPARE p AS SELECT 1", "DECLARE c CURSOR FOR SELECT 1",
        ] {
            #expect(errorCode(try socket.call("run", ["u", refused])) == "STATEMENT_REFUSED", "\(refused)")
        }
        _ = try socket.result("run", ["u", "INSERT INTO posts (owner, body) VALUES ('u', '\\x00ff'), ('u', NULL)"])
        let from = try #require((socket.result("getShardMapping", ["u"]) as? [String: Any])?["shard"] as? String)
        let to = from == "db-1" ? "db-2" : "db-1"
        // `counters` has an integer id, which the key `u` cannot be: it holds none of its rows.
        let moved = try #require(socket.result("reassignShard", ["u", to]) as? [String: Any])
        #expect(moved["rowsMoved"] as? Int == 3)
        let user = try #require(socket.result("first", ["u", "SELECT name FROM users"]) as? [String: Any])
        #expect(user["name"] as? String == "Ada")
        let posts = try #require(
            (socket.result("allShard", [to, "SELECT n, body FROM posts WHERE owner = 'u' ORDER BY n"])
                as? [String: Any])?["results"] as? [[String: Any]]
        )
        #expect(posts.map { $0["n"] as? Int } == [1, 2], "identity values kept")
        #expect((posts[0]["body"] as? [String: Any])?["$blob"] as? String == "AP8=")
        for table in ["users", "posts"] {
            let left = try #require(
                socket.result("firstShard", [from, "SELECT count(*) AS n FROM \(table)"]) as? [String: Any]
            )
            #expect(left["n"] as? Int == 0, "nothing of \(table) left on \(from)")
        }
        #expect(errorCode(try socket.call("listTables", ["db-1"])) == "UNSUPPORTED_ON_BACKEND")
    }

    @Test func aURLWithAPasswordIsRefusedAtStart() throws {
        let refused = try Daemon.runToCompletion([
            "--data-dir", "/tmp/cdb-never", "--socket", "/tmp/cdb-never.sock",
            "--shard", "a=postgresql://collegedb:secret@127.0.0.1:5432/x",
        ])
        #expect(refused.status == 64)
        #expect(refused.errors.contains("must not hold its password"))
        #expect(!refused.errors.contains("secret"))
    }

    /// A call whose server session is ended under it is told the shard cannot be reached,
    /// not that its statement failed; the shard counts as down (calls in the next second are
    /// answered at once), and a call after that is served on a new session.
    @Test func aCallWhoseSessionIsKilledIsShardUnavailableAndTheNextIsServed() throws {
        let server = try PostgresServer.shared()
        let database = try server.makeDatabase()
        let daemon = try Daemon(["--shard", "remote=" + server.url(database)], environment: server.environment)
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", ["CREATE TABLE t (k TEXT PRIMARY KEY)"])
        let killer = Thread {
            // Ends the daemon's sessions on the shard while its call sleeps there.
            for _ in 0..<50 {
                usleep(100_000)
                let ended = try? server.query(
                    database,
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%pg_sleep(3)%' AND pid <> pg_backend_pid()"
                )
                if let ended, ended != "0" { return }
            }
        }
        killer.start()
        let killed = try socket.call("first", ["k", "SELECT pg_sleep(3) AS slept"])
        #expect(errorCode(killed) == "SHARD_UNAVAILABLE", "\(killed)")
        let soon = try socket.call("first", ["k", "SELECT 1 AS n"])
        #expect(errorCode(soon) == "SHARD_UNAVAILABLE", "\(soon)")
        usleep(1_200_000)
        let next = try #require(socket.result("first", ["k", "SELECT 1 AS n"]) as? [String: Any])
        #expect(next["n"] as? Int == 1)
    }

    /// `first` on a new key tries the read strategy's shard in a `READ ONLY` transaction before
    /// it allocates; the server's refusal of a write there (SQLSTATE 25006) is an answer, so it
    /// ends an outage like any other: after the server is back, such writes are served. (They
    /// once never were: each refusal left the shard marked down, and the write that followed
    /// failed at once.)
    @Test func aWriteThroughFirstOnANewKeyIsServedOnceTheServerIsBack() throws {
        let server = try PostgresServer.startPrivate()
        let database = try server.makeDatabase()
        let daemon = try Daemon(["--shard", "remote=" + server.url(database)], environment: server.environment)
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", ["CREATE TABLE t (k TEXT PRIMARY KEY)"])
        try server.stop()
        #expect(errorCode(try socket.call("first", ["while-down", "SELECT 1 AS n"])) == "SHARD_UNAVAILABLE")
        try server.resume()
        var written: [String: Any] = [:]
        let deadline = Date().addingTimeInterval(20)
        // A new key each time: one that a failed attempt mapped would skip the READ ONLY try.
        for attempt in 0... {
            let key = "new-\(attempt)"
            written = try socket.call("first", [key, "INSERT INTO t VALUES (?) RETURNING k", [key]])
            if written["result"] != nil || Date() > deadline { break }
            usleep(300_000)
        }
        #expect(written["result"] != nil, "\(written)")
    }

    /// A SQLite shard and a PostgreSQL shard in one daemon; the server stops under load and
    /// starts again.
    @Test func aServerThatGoesDownFailsOnlyItsKeysAndIsServedAgainWhenBack() throws {
        let server = try PostgresServer.startPrivate()
        let database = try server.makeDatabase()
        let directory = Daemon.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let daemon = try Daemon(
            ["--shard", "local", "--shard", "remote=" + server.url(database)],
            directory: directory,
            environment: server.environment
        )
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", ["CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER)"])
        _ = try socket.result("setShardMapping", ["on-local", "local"])
        _ = try socket.result("setShardMapping", ["on-remote", "remote"])
        for key in ["on-local", "on-remote"] {
            _ = try socket.result("run", [key, "INSERT INTO t VALUES (?, 0)", [key]])
        }

        let stop = LockedList()
        let localErrors = LockedList()
        let load = try ClientThreads(daemon, count: 4) { _, client in
            while stop.items.isEmpty {
                do {
                    _ = try client.result("run", ["on-local", "UPDATE t SET n = n + 1 WHERE k = 'on-local'"])
                } catch {
                    localErrors.append("\(error)")
                }
            }
        }
        try server.stop()
        let started = Date()
        let down = try socket.call("first", ["on-remote", "SELECT n FROM t WHERE k = 'on-remote'"])
        #expect(errorCode(down) == "SHARD_UNAVAILABLE")
        let again = try socket.call("run", ["on-remote", "UPDATE t SET n = 1"])
        #expect(errorCode(again) == "SHARD_UNAVAILABLE")
        #expect(Date().timeIntervalSince(started) < 12, "answered within the connect timeout")
        let health = try #require(socket.result("health") as? [String: Any])
        #expect(health["status"] as? String == "degraded")
        #expect((health["shards"] as? [String: Any])?["remote"] as? String == "unavailable")
        let local = try #require(socket.result("first", ["on-local", "SELECT n FROM t"]) as? [String: Any])
        #expect((local["n"] as? Int ?? 0) > 0)

        try server.resume()
        var served = false
        let deadline = Date().addingTimeInterval(20)
        while !served, Date() < deadline {
            served = (try? socket.result("run", ["on-remote", "UPDATE t SET n = 2 WHERE k = 'on-remote'"])) != nil
            if !served { usleep(200_000) }
        }
        #expect(served, "served again without a restart")
        stop.append("stop")
        load.wait()
        #expect(localErrors.items.isEmpty, "\(localErrors.items.prefix(3))")
        let back = try #require(socket.result("first", ["on-remote", "SELECT n FROM t"]) as? [String: Any])
        #expect(back["n"] as? Int == 2)
        #expect((try socket.result("health") as? [String: Any])?["status"] as? String == "ok")
    }
}
