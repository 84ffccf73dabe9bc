import Crypto
import Foundation
import Synchronization
import Testing

/// Users and their posts spread over shards by the daemon, and the checks every rebalancing
/// test makes of them: each row on the shard its key maps to, exactly once.
enum RebalanceFixture {
    static let schema = """
        CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, body TEXT);
        CREATE INDEX posts_by_user ON posts (user_id);
        """

    /// Daemon flags for `shards` shards whose posts belong to their user.
    static func arguments(shards: Int, extra: [String] = []) -> [String] {
        (1...shards).flatMap { ["--shard", "db-\($0)"] } + ["--owner", "posts=user_id", "--durability", "normal"]
            + extra
    }

    /// How a test makes its daemons on one backend: the flags of `shards` shards of it (new
    /// databases for PostgreSQL, made once so that a restarted daemon finds the same ones), the
    /// environment, and the parameters that register one more shard of it.
    struct Fleet {
        let backend: Backend
        let arguments: [String]
        let environment: [String: String]
        private let server: PostgresServer?

        init(_ backend: Backend, shards: Int, extra: [String] = []) throws {
            self.backend = backend
            switch backend {
            case .sqlite:
                server = nil
                arguments = RebalanceFixture.arguments(shards: shards, extra: extra)
                environment = [:]
            case .postgres:
                let server = try PostgresServer.shared()
                self.server = server
                arguments = try server.shardFlags(count: shards) + ["--owner", "posts=user_id"] + extra
                environment = server.environment
            }
        }

        /// A daemon on the fleet's shards, in `directory` (a new one by default).
        func daemon(directory: URL? = nil, environment extra: [String: String] = [:]) throws -> Daemon {
            let environment = self.environment.merging(extra) { $1 }
            if let directory { return try Daemon(arguments, directory: directory, environment: environment) }
            return try Daemon(arguments, environment: environment)
        }

        /// Registers one more shard named `name` through `socket`: a new file, or a new database
        /// given the tables with `createSchema` (moves between PostgreSQL shards need the
        /// tables on the target; between SQLite files they are made as rows arrive).
        func registerShard(_ name: String, through socket: LineSocket) throws {
            guard let server else {
                _ = try socket.result("registerShard", [name])
                return
            }
            _ = try socket.result("registerShard", [name, server.url(try server.makeDatabase())])
            _ = try socket.result("createSchema", [RebalanceFixture.schema, name])
        }

        /// `sqlite` users, or fewer on PostgreSQL, whose moves go one record at a time.
        func users(_ sqlite: Int) -> Int { backend == .sqlite ? sqlite : max(200, sqlite / 25) }
    }

    /// Writes users `range` (each with one post whose id is the user's id times 10) through the
    /// daemon, as `batch` calls pipelined on 4 connections: the strategy places each key.
    static func load(_ daemon: Daemon, users range: ClosedRange<Int>) throws {
        let failures = Mutex<[String]>([])
        let loaders = try ClientThreads(daemon, count: 4) { index, socket in
            var lines: [String] = []
            for user in range where user % 4 == index {
                lines.append(
                    #"{"jsonrpc":"2.0","id":\#(user),"method":"batch","params":["\#(user)",[{"sql":"INSERT INTO users VALUES (\#(user), 'user \#(user)')"},{"sql":"INSERT INTO posts VALUES (\#(user * 10), \#(user), 'post')"}]]}"#
                )
            }
            do {
                for response in try pipelined(socket, lines) where response["error"] != nil {
                    failures.withLock { $0.append("\(response)") }
                }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        loaders.wait()
        if let failure = failures.withLock({ $0.first }) {
            throw LineSocket.Failure(description: "loading failed: \(failure)")
        }
    }

    /// Sends `lines` in chunks, reading each chunk's answers before the next (the daemon stops
    /// reading from a client that does not read its answers).
    static func pipelined(_ socket: LineSocket, _ lines: [String]) throws -> [[String: Any]] {
        var responses: [[String: Any]] = []
        for start in stride(from: 0, to: lines.count, by: 200) {
            let chunk = lines[start..<min(start + 200, lines.count)]
            try socket.send(chunk.joined(separator: "\n") + "\n")
            for _ in chunk { responses.append(try socket.nextObject()) }
        }
        return responses
    }

    /// Every row of `table` on every shard, as `SHARD|ROW` strings sorted: a full comparison of
    /// two snapshots finds any row lost, duplicated or changed.
    static func snapshot(_ socket: LineSocket, table: String) throws -> [String] {
        var rows: [String] = []
        for shard in try #require(socket.result("listKnownShards") as? [String]) {
            let response = try socket.call("allShard", [shard, "SELECT * FROM \(table) ORDER BY id"])
            // A shard that never held a row of the table has no such table.
            guard let result = response["result"] as? [String: Any] else { continue }
            for row in try #require(result["results"] as? [[String: Any]]) {
                let values = row.keys.sorted().map { "\($0)=\(row[$0]!)" }.joined(separator: ",")
                rows.append(values)
            }
        }
        return rows.sorted()
    }

    /// Per shard, the user ids of `table`'s owning column there.
    static func owners(_ socket: LineSocket, table: String, column: String) throws -> [String: [Int]] {
        var owners: [String: [Int]] = [:]
        for shard in try #require(socket.result("listKnownShards") as? [String]) {
            let result = try #require(
                socket.result("allShard", [shard, "SELECT \(column) AS owner FROM \(table)"]) as? [String: Any]
            )
            owners[shard] = try #require(result["results"] as? [[String: Any]]).compactMap { $0["owner"] as? Int }
        }
        return owners
    }

    /// Per shard, the digests of the keys mapped there, read page by page.
    static func mappedDigests(_ socket: LineSocket) throws -> [String: Set<String>] {
        var mapped: [String: Set<String>] = [:]
        for shard in try #require(socket.result("listKnownShards") as? [String]) {
            var cursor: String?
            repeat {
                var params: [Any] = [shard, 10_000]
                if let cursor { params.append(cursor) }
                let page = try #require(socket.result("getKeysForShard", params) as? [String: Any])
                mapped[shard, default: []].formUnion(try #require(page["keys"] as? [String]))
                cursor = page["cursor"] as? String
            } while cursor != nil
        }
        return mapped
    }

    static func digest(_ key: String) -> String {
        SHA256.hash(data: Data(key.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Checks that every row of users and posts is on the shard its user's key maps to, exactly
    /// once, and that the users are `expected`.
    static func expectEveryRowOnItsMappedShard(_ socket: LineSocket, users expected: Set<Int>) throws {
        let mapped = try mappedDigests(socket)
        var seen: [Int] = []
        for (table, column) in [("users", "id"), ("posts", "user_id")] {
            let owners = try owners(socket, table: table, column: column)
            for (shard, ids) in owners {
                let misplaced = ids.filter { !(mapped[shard] ?? []).contains(digest(String($0))) }
                #expect(misplaced.isEmpty, "\(table) rows on \(shard) whose key maps elsewhere: \(misplaced.prefix(5))")
                if table == "users" { seen += ids }
            }
        }
        #expect(seen.count == Set(seen).count, "no user is on two shards")
        #expect(Set(seen) == expected, "every user exists")
    }

    /// Polls `getRebalanceStatus` until the plan is done (or failed), and returns the status.
    static func waitUntilFinished(_ socket: LineSocket, plan: Int, seconds: Double = 180) throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let status = try #require(socket.result("getRebalanceStatus", [plan]) as? [String: Any])
            if let state = status["state"] as? String, ["done", "failed", "cancelled"].contains(state) {
                return status
            }
            usleep(50_000)
        }
        throw LineSocket.Failure(description: "plan \(plan) did not finish within \(seconds) s")
    }
}
