import Foundation
import Logging
import PostgresNIO

#if canImport(Glibc)
import Glibc
#endif

/// `first` by a mapped key on a PostgreSQL shard through collegedbd (its own SQLite mapping
/// store, and a second daemon on a shared PostgreSQL catalog, whose routed calls are fenced
/// against other daemons' moves), beside the same query sent straight to the same server with
/// postgres-nio, through pgbouncer (transaction pooling) to that server, and with PostgreSQL's own
/// client (libpq, through `pgbench -M prepared`), in one run. It starts a throwaway cluster with
/// `scripts/postgres-cluster` (run it from the repository) and pgbouncer from Debian's package.
///
///     .build/release/collegedb-benchmark postgres [--seconds 3] [--keys 10000]
enum PostgresBenchmark {
    static func run(seconds: Double, keyCount: Int) async throws {
        guard keyCount > 0 else { throw BenchmarkFailure("--keys must be at least 1") }
        let cluster = try Cluster.start()
        defer { cluster.remove() }
        try cluster.psql("postgres", "CREATE DATABASE bench")
        let directory = "/tmp/cdb-pgbench-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        setenv("PGPASSFILE", cluster.passFile, 1)

        let daemonSocket = directory + "/d.sock"
        let daemon = try CollegeDBBenchmark.startProcess(
            CollegeDBBenchmark.binaryDirectory.appendingPathComponent("collegedbd"),
            [
                "--data-dir", directory + "/data", "--socket", daemonSocket, "--log-level", "warning",
                "--shard", "pg=postgresql://collegedb@127.0.0.1:\(cluster.port)/bench?pool_size=16",
            ],
            socket: daemonSocket
        )
        defer { CollegeDBBenchmark.stopProcess(daemon) }
        _ = try CollegeDBBenchmark.populate(socket: daemonSocket, keyCount: keyCount)
        try cluster.psql("postgres", "CREATE DATABASE bench_shared")
        try cluster.psql("postgres", "CREATE DATABASE bench_catalog")
        let sharedSocket = directory + "/shared.sock"
        let base = "postgresql://collegedb@127.0.0.1:\(cluster.port)"
        let shared = try CollegeDBBenchmark.startProcess(
            CollegeDBBenchmark.binaryDirectory.appendingPathComponent("collegedbd"),
            [
                "--data-dir", directory + "/shared", "--socket", sharedSocket, "--log-level", "warning",
                "--catalog", base + "/bench_catalog", "--shard", "pg=\(base)/bench_shared?pool_size=16",
            ],
            socket: sharedSocket
        )
        defer { CollegeDBBenchmark.stopProcess(shared) }
        _ = try CollegeDBBenchmark.populate(socket: sharedSocket, keyCount: keyCount)
        let bouncer = try PgBouncer.start(cluster: cluster, in: directory)
        defer { bouncer.stop() }
        let busy = try BusyCores()
        defer { withExtendedLifetime(busy) {} }

        let requests = (0..<keyCount).map { index in
            Array(
                (#"{"jsonrpc":"2.0","id":1,"method":"first","params":["user:\#(index)","SELECT id, name, email FROM users WHERE id = $1",[\#(index)]]}"#
                    + "\n").utf8
            )
        }
        let group = MultiThreadedEventLoopGroup.singleton
        let logger = Logger(label: "benchmark")
        var reports: [LatencyReport] = []
        for connections in [1, 16] {
            reports.append(
                try PgBench.measure(
                    cluster: cluster,
                    database: "bench",
                    connections: connections,
                    seconds: seconds,
                    keyCount: keyCount,
                    directory: directory
                )
            )
            for (label, socket) in [
                ("collegedbd `first` over the socket", daemonSocket),
                ("collegedbd `first`, shared catalog (fenced)", sharedSocket),
            ] {
                reports.append(
                    try ClosedLoop.measure(label, connections: connections, seconds: seconds) { _ in
                        let client = try LineClient(path: socket)
                        return { iteration in
                            let response = try client.roundTrip(requests[iteration % keyCount])
                            guard response.count > 60 else { throw BenchmarkFailure("short response") }
                        }
                    }
                )
            }
            for (label, port) in [
                ("postgres-nio straight to PostgreSQL", cluster.port), ("postgres-nio through pgbouncer", bouncer.port),
            ] {
                reports.append(
                    try ClosedLoop.measure(label, connections: connections, seconds: seconds) { _ in
                        let connection = try PostgresConnection.connect(
                            on: group.next(),
                            configuration: .init(
                                host: "127.0.0.1",
                                port: port,
                                username: "collegedb",
                                password: cluster.password,
                                database: "bench",
                                tls: .disable
                            ),
                            id: 1,
                            logger: logger
                        ).wait()
                        return { iteration in
                            let key = iteration % keyCount
                            let result = try connection.query(
                                "SELECT id, name, email FROM users WHERE id = \(key)",
                                logger: logger
                            ).wait()
                            guard result.rows.count == 1 else { throw BenchmarkFailure("row \(key) missing") }
                        }
                    }
                )
            }
        }
        print(
            "`first` by a mapped key on one PostgreSQL shard (\(keyCount) keys), closed loop, \(seconds) s per row, "
                + "\(ProcessInfo.processInfo.activeProcessorCount) cores kept busy at idle priority\n"
        )
        print("| what | connections | p50 µs | p99 µs | requests/s |")
        print("|---|---|---|---|---|")
        for report in reports { print(report.row) }
        func find(_ prefix: String, _ connections: Int) -> LatencyReport {
            reports.first { $0.label.hasPrefix(prefix) && $0.connections == connections }!
        }
        print("")
        for connections in [1, 16] {
            let libpq = find("pgbench", connections)
            let daemon = find("collegedbd `first` over", connections)
            let fenced = find("collegedbd `first`, shared", connections)
            let direct = find("postgres-nio straight", connections)
            let bounced = find("postgres-nio through", connections)
            print(
                String(
                    format:
                        "- %d connection(s): p50 collegedbd / direct = %.2fx (aim <= 1.3x at 1), pgbouncer / direct = %.2fx; "
                        + "requests/s collegedbd / direct = %.2f, pgbouncer / direct = %.2f",
                    connections,
                    daemon.p50 / direct.p50,
                    bounced.p50 / direct.p50,
                    daemon.throughput / direct.throughput,
                    bounced.throughput / direct.throughput
                )
            )
            print(
                String(
                    format: "  shared catalog (fenced) / direct: p50 %.2fx, requests/s %.2f",
                    fenced.p50 / direct.p50,
                    fenced.throughput / direct.throughput
                )
            )
            print(
                String(
                    format:
                        "  against pgbench (libpq, mean %.1f µs): p50 / pgbench's mean: collegedbd %.2fx (aim <= 2.5x at 1), "
                        + "shared catalog %.2fx (aim <= 3x at 1), postgres-nio %.2fx; requests/s / pgbench's: "
                        + "collegedbd %.2f, shared catalog %.2f (aim >= 0.5 at 16), pgbouncer %.2f",
                    libpq.mean,
                    daemon.p50 / libpq.mean,
                    fenced.p50 / libpq.mean,
                    direct.p50 / libpq.mean,
                    daemon.throughput / libpq.throughput,
                    fenced.throughput / libpq.throughput,
                    bounced.throughput / libpq.throughput
                )
            )
        }
    }

    /// A cluster of `scripts/postgres-cluster`.
    struct Cluster {
        let directory: String
        let port: Int
        let passFile: String
        let password: String

        static func start() throws -> Cluster {
            let output = try shell(["scripts/postgres-cluster", "start"])
            var values: [String: String] = [:]
            for line in output.split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2 { values[parts[0]] = parts[1] }
            }
            guard let directory = values["COLLEGEDB_TEST_POSTGRES_DIR"],
                let port = values["COLLEGEDB_TEST_POSTGRES_PORT"].flatMap(Int.init),
                let passFile = values["COLLEGEDB_TEST_POSTGRES_PASSFILE"],
                let password = try? String(contentsOfFile: directory + "/password", encoding: .utf8)
            else {
                throw BenchmarkFailure("scripts/postgres-cluster start (run from the repository) printed: \(output)")
            }
            return Cluster(
                directory: directory,
                port: port,
                passFile: passFile,
                password: password.trimmingCharacters(in: .whitespacesAndNewlines)
            )
        }

        func psql(_ database: String, _ sql: String) throws {
            _ = try shell([
                "/usr/bin/env", "PGPASSFILE=\(passFile)", "psql",
                "postgresql://collegedb@127.0.0.1:\(port)/\(database)",
                "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql,
            ])
        }

        func remove() { _ = try? shell(["scripts/postgres-cluster", "remove", directory]) }
    }

    /// pgbouncer from Debian's package, in transaction pooling, in front of the cluster.
    struct PgBouncer {
        let process: Process
        let port: Int

        static func start(cluster: Cluster, in directory: String) throws -> PgBouncer {
            let place = directory + "/pgbouncer"
            try FileManager.default.createDirectory(atPath: place, withIntermediateDirectories: true)
            let port = cluster.port + 1
            try """
            [databases]
            bench = host=127.0.0.1 port=\(cluster.port) dbname=bench
            [pgbouncer]
            listen_addr = 127.0.0.1
            listen_port = \(port)
            unix_socket_dir =
            auth_type = plain
            auth_file = \(place)/users.txt
            pool_mode = transaction
            default_pool_size = 16
            max_client_conn = 100
            logfile = \(place)/pgbouncer.log
            """.write(toFile: place + "/pgbouncer.ini", atomically: true, encoding: .utf8)
            try "\"collegedb\" \"\(cluster.password)\"\n".write(
                toFile: place + "/users.txt",
                atomically: true,
                encoding: .utf8
            )
            chmod(directory, 0o755)
            _ = try? shell(["chown", "-R", "postgres", place])
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
            process.arguments = ["-u", "postgres", "--", "/usr/sbin/pgbouncer", place + "/pgbouncer.ini"]
            if getuid() != 0 {
                process.executableURL = URL(fileURLWithPath: "/usr/sbin/pgbouncer")
                process.arguments = [place + "/pgbouncer.ini"]
            }
            try process.run()
            for _ in 0..<500 {
                let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = in_port_t(UInt16(port).bigEndian)
                address.sin_addr.s_addr = inet_addr("127.0.0.1")
                let connected = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        connect(probe, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
                close(probe)
                if connected == 0 { return PgBouncer(process: process, port: port) }
                usleep(20_000)
            }
            throw BenchmarkFailure("pgbouncer did not listen on \(port)")
        }

        func stop() {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
    }

    @discardableResult
    static func shell(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(
            fileURLWithPath: arguments[0].hasPrefix("/")
                ? arguments[0] : FileManager.default.currentDirectoryPath + "/" + arguments[0]
        )
        if arguments[0] == "chown" { process.executableURL = URL(fileURLWithPath: "/usr/bin/chown") }
        process.arguments = Array(arguments.dropFirst())
        // A file, not a pipe: a server the command starts would hold a pipe open.
        let outputPath = NSTemporaryDirectory() + "cdb-bench-output-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        defer { unlink(outputPath) }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        try process.run()
        process.waitUntilExit()
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw BenchmarkFailure("\(arguments.joined(separator: " ")) failed")
        }
        return text
    }
}
