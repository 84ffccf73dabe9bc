import CollegeDB
import Crypto
import Foundation
import GRDBSQLite
import Synchronization

/// Rebalancing: rows moved per second by a rebalance job (users and their posts, two owned
/// tables, from one shard onto a second one added to it), beside the same rows moved by plain
/// `INSERT INTO … SELECT` plus `DELETE` between two SQLite files in batches of the job's size,
/// in the same synchronous mode, in the same run; then, with a third shard added, p99 of
/// `first` on keys the next job does not move, idle and while it runs.
///
///     collegedb-benchmark rebalance [--records 200000] [--seconds 3]
enum RebalanceBenchmark {
    static let batchRecords = 1000

    static func run(records: Int, seconds: Double) async throws {
        let directory = "/tmp/cdb-rebalance-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory + "/data/shards", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let busy = try BusyCores()
        defer { withExtendedLifetime(busy) {} }

        // One shard holding every user and post, every key mapped to it.
        let source = directory + "/data/shards/db-1.sqlite"
        try SQLiteScript.run(
            path: source,
            """
            PRAGMA journal_mode = WAL;
            CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
            CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, body TEXT);
            CREATE INDEX posts_by_user ON posts (user_id);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(records))
            INSERT INTO users SELECT i, 'user ' || i FROM n;
            INSERT INTO posts SELECT id * 10, id, 'a post of about forty bytes, as posts go' FROM users;
            """
        )
        let store = try MappingStore(
            path: directory + "/data/mapping.sqlite",
            keyCodec: MappingKeyCodec(hashesKeys: true)
        )
        try store.importMappings((1...records).map(String.init), shard: "db-1")
        try store.close()
        // The reference moves the same rows between copies of the same files.
        try FileManager.default.copyItem(atPath: source, toPath: directory + "/raw-source.sqlite")

        let socket = directory + "/d.sock"
        let daemon = try CollegeDBBenchmark.startProcess(
            CollegeDBBenchmark.binaryDirectory.appendingPathComponent("collegedbd"),
            [
                "--data-dir", directory + "/data", "--socket", socket, "--log-level", "warning",
                "--shard", "db-1", "--shard", "db-2", "--owner", "posts=user_id",
            ],
            socket: socket
        )
        defer { CollegeDBBenchmark.stopProcess(daemon) }
        let control = try LineClient(path: socket)

        // The rate: a second shard added, half the records moved onto it, nothing else running.
        let (firstPlan, firstMoves) = try plan(control)
        let (rowsMoved, jobSeconds) = try execute(firstPlan, socket: socket)
        let jobRate = Double(rowsMoved) / jobSeconds

        // Serving while moving: a third shard added, reads of the records that stay, idle and
        // while the job moves the others.
        _ = try call(control, "registerShard", ["db-3"])
        let (secondPlan, secondMoves) = try plan(control)
        let moving = try movedDigests(control, planID: secondPlan)
        let unmoved = Array((1...records).lazy.map(String.init).filter { !moving.contains(digest($0)) }.prefix(10_000))
        let readRequests = unmoved.map { key in
            Array(
                (#"{"jsonrpc":"2.0","id":1,"method":"first","params":["\#(key)","SELECT id, name FROM users WHERE id = ?",[\#(key)]]}"#
                    + "\n").utf8
            )
        }
        let answer = Array(#"{"jsonrpc":"2.0","id":1,"result":{"id":"#.utf8)
        let reader: @Sendable (Int) throws -> (@Sendable (Int) throws -> Void) = { _ in
            let client = try LineClient(path: socket)
            return { iteration in
                let response = try client.roundTrip(readRequests[iteration % readRequests.count])
                guard response.starts(with: answer) else {
                    throw BenchmarkFailure("no row: \(String(decoding: response, as: UTF8.self))")
                }
            }
        }
        // Warm: every key read once, so the idle figure is not one of cold caches.
        let warmer = try LineClient(path: socket)
        for request in readRequests { _ = try warmer.roundTrip(request) }
        let idle = try ClosedLoop.measure(
            "`first` on unmoved keys, idle",
            connections: 1,
            seconds: seconds,
            makeWorker: reader
        )
        let finished = Atomic<Bool>(false)
        let mover = Thread {
            let outcome = try? execute(secondPlan, socket: socket)
            servingRate.withLock { $0 = outcome.map { Double($0.rows) / $0.seconds } }
            finished.store(true, ordering: .releasing)
        }
        mover.start()
        let during = try ClosedLoop.measure(
            "`first` on unmoved keys, while the job runs",
            connections: 1,
            seconds: 3600,
            until: { finished.load(ordering: .acquiring) },
            makeWorker: reader
        )
        guard let rateWhileServing = servingRate.withLock({ $0 }) else { throw BenchmarkFailure("the job failed") }
        CollegeDBBenchmark.stopProcess(daemon)

        // The same users, moved by hand: those the first job moved to db-2.
        let movedUsers = try SQLiteScript.integers(
            path: directory + "/data/shards/db-2.sqlite",
            "SELECT id FROM users ORDER BY id"
        )
        let rawStarted = Date()
        try moveByHand(users: movedUsers, from: directory + "/raw-source.sqlite", to: directory + "/raw-target.sqlite")
        let rawRate = Double(2 * movedUsers.count) / Date().timeIntervalSince(rawStarted)

        print(
            "Rebalance: \(records) users with one post each on one shard; a second shard added and \(firstMoves) users moved onto it, then a third and \(secondMoves) moved onto it while serving; synchronous=FULL (the default durability) on both sides; cores kept busy\n"
        )
        print("| what | rows/s |")
        print("|---|---|")
        print(String(format: "| rebalance job, alone (%d rows in %.2f s) | %.0f |", rowsMoved, jobSeconds, jobRate))
        print(String(format: "| rebalance job, while one connection reads | %.0f |", rateWhileServing))
        print(
            String(
                format:
                    "| INSERT INTO … SELECT + DELETE of the first job's rows, ATTACHed files, one transaction per %d users | %.0f |",
                batchRecords,
                rawRate
            )
        )
        print("")
        print("| what | connections | p50 µs | p99 µs | requests/s |")
        print("|---|---|---|---|---|")
        print(idle.row)
        print(during.row)
        print("")
        print(String(format: "- job alone / plain SQL rows per second = %.2f (aim >= 0.5)", jobRate / rawRate))
        print(
            String(
                format: "- p99 of `first` on unmoved keys while the job runs / idle = %.2fx (aim <= 2x)",
                during.p99 / idle.p99
            )
        )
    }

    /// The job's rows per second while the reads ran.
    private static let servingRate = Mutex<Double?>(nil)

    /// Makes a plan; returns its id and moves.
    static func plan(_ client: LineClient) throws -> (id: Int, moves: Int) {
        let plan = try call(client, "generateRebalancePlan") as? [String: Any]
        guard let id = plan?["planId"] as? Int, let moves = plan?["moves"] as? Int, moves > 0 else {
            throw BenchmarkFailure("no plan: \(String(describing: plan))")
        }
        return (id, moves)
    }

    /// Runs a plan to its end; returns the rows it moved and the seconds that took.
    static func execute(_ planID: Int, socket: String) throws -> (rows: Int, seconds: Double) {
        let client = try LineClient(path: socket)
        let started = Date()
        _ = try call(client, "executeRebalance", [planID])
        while true {
            guard let status = try call(client, "getRebalanceStatus", [planID]) as? [String: Any],
                let state = status["state"] as? String
            else { throw BenchmarkFailure("no status") }
            switch state {
            case "done": return (status["rowsMoved"] as? Int ?? 0, Date().timeIntervalSince(started))
            case "running": usleep(5_000)
            default: throw BenchmarkFailure("the job ended \(state): \(status)")
            }
        }
    }

    /// The digests of the keys of every record the plan moves.
    static func movedDigests(_ client: LineClient, planID: Int) throws -> Set<String> {
        var digests = Set<String>()
        var cursor: String?
        repeat {
            var params: [Any] = [planID, 10_000]
            if let cursor { params.append(cursor) }
            guard let page = try call(client, "listRebalanceMoves", params) as? [String: Any],
                let moves = page["moves"] as? [[String: Any]]
            else { throw BenchmarkFailure("listRebalanceMoves failed") }
            digests.formUnion(moves.compactMap { $0["key"] as? String })
            cursor = page["cursor"] as? String
        } while cursor != nil
        return digests
    }

    /// Moves `users` and their posts in batches, each one transaction over both files.
    static func moveByHand(users: [Int64], from source: String, to target: String) throws {
        try SQLiteScript.run(
            path: target,
            """
            PRAGMA journal_mode = WAL;
            CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
            CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, body TEXT);
            CREATE INDEX posts_by_user ON posts (user_id);
            """
        )
        var script = "PRAGMA synchronous = FULL; ATTACH '\(target)' AS target; PRAGMA target.synchronous = FULL;"
        for start in stride(from: 0, to: users.count, by: batchRecords) {
            let ids = users[start..<min(start + batchRecords, users.count)].map(String.init).joined(separator: ",")
            script += """
                BEGIN;
                INSERT INTO target.users SELECT * FROM users WHERE id IN (\(ids));
                INSERT INTO target.posts SELECT * FROM posts WHERE user_id IN (\(ids));
                DELETE FROM posts WHERE user_id IN (\(ids));
                DELETE FROM users WHERE id IN (\(ids));
                COMMIT;
                """
        }
        try SQLiteScript.run(path: source, script)
    }

    static func digest(_ key: String) -> String {
        SHA256.hash(data: Data(key.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Calls `method` and returns its result (JSON-decoded), throwing on an error answer.
    static func call(_ client: LineClient, _ method: String, _ params: [Any] = []) throws -> Any? {
        let request: [String: Any] = ["jsonrpc": "2.0", "id": 1, "method": method, "params": params]
        let line = try client.roundTrip(Array(try JSONSerialization.data(withJSONObject: request)) + [10])
        let response = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
        if let error = response?["error"] { throw BenchmarkFailure("\(method): \(error)") }
        return response?["result"]
    }
}

/// SQL scripts and integer columns read through libsqlite3 directly.
enum SQLiteScript {
    static func run(path: String, _ sql: String) throws {
        try open(path) { handle in
            var message: UnsafeMutablePointer<CChar>?
            guard sqlite3_exec(handle, sql, nil, nil, &message) == SQLITE_OK else {
                defer { sqlite3_free(message) }
                throw BenchmarkFailure("\(path): \(message.map { String(cString: $0) } ?? "failed")")
            }
        }
    }

    static func integers(path: String, _ sql: String) throws -> [Int64] {
        try open(path) { handle in
            var statement: OpaquePointer?
            guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else {
                throw BenchmarkFailure(String(cString: sqlite3_errmsg(handle)))
            }
            defer { sqlite3_finalize(statement) }
            var values: [Int64] = []
            while sqlite3_step(statement) == SQLITE_ROW { values.append(sqlite3_column_int64(statement, 0)) }
            return values
        }
    }

    private static func open<T>(_ path: String, _ body: (OpaquePointer?) throws -> T) throws -> T {
        var handle: OpaquePointer?
        guard sqlite3_open(path, &handle) == SQLITE_OK else { throw BenchmarkFailure("cannot open \(path)") }
        defer { sqlite3_close_v2(handle) }
        sqlite3_busy_timeout(handle, 5000)
        return try body(handle)
    }
}
