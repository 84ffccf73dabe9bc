import CollegeDB
import Foundation
import Logging
import PostgresNIO

/// Rebalancing between PostgreSQL shards: rows moved per second by a rebalance job (users and
/// their posts, two owned tables) when a second shard is added to one holding every user, with
/// the plan in the daemon's own SQLite store and in a shared PostgreSQL catalog, beside the same
/// rows moved by hand with postgres-nio between two other databases of the same server: per
/// batch of 500 users (the job's batch), their rows read as JSON in a source transaction, inserted on the target
/// in one of its own, and deleted before the source commits (the job's data path, without the
/// locks, the catalog and the intents).
///
///     .build/release/collegedb-benchmark postgres-rebalance [--records 20000]
enum PostgresRebalanceBenchmark {
    static let batchRecords = 500

    static func run(records: Int) async throws {
        let cluster = try PostgresBenchmark.Cluster.start()
        defer { cluster.remove() }
        setenv("PGPASSFILE", cluster.passFile, 1)
        let directory = "/tmp/cdb-pgrebalance-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let base = "postgresql://collegedb@127.0.0.1:\(cluster.port)"
        for database in ["private_a", "private_b", "shared_a", "shared_b", "catalog", "raw_a", "raw_b"] {
            try cluster.psql("postgres", "CREATE DATABASE \(database)")
            try cluster.psql(database, schema)
        }
        for database in ["private_a", "shared_a", "raw_a"] { try cluster.psql(database, load(records)) }
        let keys = (1...records).map(String.init)

        // The daemon's own store: every key mapped to the first shard.
        let store = try MappingStore(
            path: directory + "/data/mapping.sqlite",
            keyCodec: MappingKeyCodec(hashesKeys: true)
        )
        try store.importMappings(keys, shard: "a")
        try store.close()
        let privateRun = try measure(
            in: directory,
            name: "private",
            arguments: [
                "--data-dir", directory + "/data", "--shard", "a=\(base)/private_a", "--shard", "b=\(base)/private_b",
            ]
        )

        // A shared catalog: the same, its plan and progress in the catalog.
        let clients = PostgresClients()
        let runningClients = Task { try await clients.run() }
        defer { runningClients.cancel() }
        let catalog = try PostgresCatalog(
            address: PostgresShardAddress(url: base + "/catalog"),
            keyCodec: MappingKeyCodec(hashesKeys: true),
            clients: clients,
            logger: Logger(label: "benchmark")
        )
        try catalog.importMappings(keys, shard: "a")
        try catalog.close()
        let sharedRun = try measure(
            in: directory,
            name: "shared",
            arguments: [
                "--data-dir", directory + "/shared", "--catalog", base + "/catalog",
                "--shard", "a=\(base)/shared_a", "--shard", "b=\(base)/shared_b",
            ]
        )

        let movedUsers = Array(1...Int64(privateRun.moves))
        let rawStarted = Date()
        try await moveByHand(users: movedUsers, cluster: cluster)
        let rawRate = Double(2 * movedUsers.count) / Date().timeIntervalSince(rawStarted)

        print(
            "Rebalance between PostgreSQL shards: \(records) users with one post each on one shard, a second shard "
                + "added and about half the users moved onto it; one server for all databases; cores kept busy\n"
        )
        print("| what | rows/s |")
        print("|---|---|")
        for (label, run) in [("private SQLite store", privateRun), ("shared catalog", sharedRun)] {
            print(
                String(
                    format: "| rebalance job, %@ (%d rows in %.2f s) | %.0f |",
                    label,
                    run.rows,
                    run.seconds,
                    Double(run.rows) / run.seconds
                )
            )
        }
        print(String(format: "| postgres-nio by hand, %d users per batch | %.0f |", batchRecords, rawRate))
        print("")
        for (label, run) in [("private SQLite store", privateRun), ("shared catalog", sharedRun)] {
            print(String(format: "- job (%@) / by hand = %.2f", label, Double(run.rows) / run.seconds / rawRate))
        }
    }

    static let schema = """
        CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL);
        CREATE TABLE posts (id integer PRIMARY KEY, user_id integer NOT NULL, body text);
        CREATE INDEX posts_by_user ON posts (user_id);
        """

    static func load(_ records: Int) -> String {
        """
        INSERT INTO users SELECT i, 'user ' || i FROM generate_series(1, \(records)) i;
        INSERT INTO posts SELECT id * 10, id, 'a post of about forty bytes, as posts go' FROM users;
        """
    }

    /// Starts a daemon with `arguments` (its busy cores aside), plans and runs the move onto the
    /// second shard; returns the plan's moves, the rows moved and the seconds the job took.
    private static func measure(
        in directory: String,
        name: String,
        arguments: [String]
    ) throws -> (moves: Int, rows: Int, seconds: Double) {
        let socket = directory + "/\(name).sock"
        let daemon = try CollegeDBBenchmark.startProcess(
            CollegeDBBenchmark.binaryDirectory.appendingPathComponent("collegedbd"),
            arguments + ["--socket", socket, "--log-level", "warning", "--owner", "posts=user_id"],
            socket: socket
        )
        defer { CollegeDBBenchmark.stopProcess(daemon) }
        let busy = try BusyCores()
        defer { withExtendedLifetime(busy) {} }
        let control = try LineClient(path: socket)
        let (planID, moves) = try RebalanceBenchmark.plan(control)
        let (rows, seconds) = try RebalanceBenchmark.execute(planID, socket: socket)
        return (moves, rows, seconds)
    }

    /// Moves `users` and their posts from `raw_a` to `raw_b`, a batch at a time.
    private static func moveByHand(users: [Int64], cluster: PostgresBenchmark.Cluster) async throws {
        let logger = Logger(label: "benchmark")
        func connect(_ database: String) async throws -> PostgresConnection {
            try await PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.next(),
                configuration: .init(
                    host: "127.0.0.1",
                    port: cluster.port,
                    username: "collegedb",
                    password: cluster.password,
                    database: database,
                    tls: .disable
                ),
                id: 1,
                logger: logger
            )
        }
        let source = try await connect("raw_a")
        let target = try await connect("raw_b")
        /// Runs `sql` with `value` as `$1`.
        func query(
            _ connection: PostgresConnection,
            _ sql: String,
            _ value: some PostgresDynamicTypeEncodable
        ) async throws -> PostgresRowSequence {
            var binds = PostgresBindings()
            binds.append(value)
            return try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
        }
        for start in stride(from: 0, to: users.count, by: batchRecords) {
            let batch = Array(users[start..<min(start + batchRecords, users.count)].map(Int32.init))
            try await source.query("BEGIN", logger: logger)
            var copies: [(String, String)] = []
            for (table, column) in [("users", "id"), ("posts", "user_id")] {
                let sql = "SELECT coalesce(json_agg(t), '[]')::text FROM \(table) t WHERE \(column) = ANY($1)"
                for try await json in try await query(source, sql, batch).decode(String.self) {
                    copies.append((table, json))
                }
            }
            try await target.query("BEGIN", logger: logger)
            for (table, json) in copies {
                let sql = "INSERT INTO \(table) SELECT * FROM json_populate_recordset(NULL::\(table), $1::json)"
                _ = try await query(target, sql, json)
            }
            try await target.query("COMMIT", logger: logger)
            for (table, column) in [("posts", "user_id"), ("users", "id")] {
                _ = try await query(source, "DELETE FROM \(table) WHERE \(column) = ANY($1)", batch)
            }
            try await source.query("COMMIT", logger: logger)
        }
        try await source.close()
        try await target.close()
    }
}
