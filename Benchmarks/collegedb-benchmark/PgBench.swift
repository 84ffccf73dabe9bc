import Foundation

/// PostgreSQL's own client, libpq, through `pgbench`: the reference of the PostgreSQL rows. The
/// same point query as the other rows, as a custom script, prepared (`-M prepared`), each client
/// on a connection of its own over TCP on loopback, one thread per client up to the cores.
enum PgBench {
    /// Runs the point query on `database` for about `seconds` with `connections` clients;
    /// latencies from pgbench's per-transaction log (`-l`), throughput from its `tps` line.
    static func measure(
        cluster: PostgresBenchmark.Cluster,
        database: String,
        connections: Int,
        seconds: Double,
        keyCount: Int,
        directory: String
    ) throws -> LatencyReport {
        let script = directory + "/point-query.sql"
        try "\\set id random(0, \(keyCount - 1))\nSELECT id, name, email FROM users WHERE id = :id;\n".write(
            toFile: script,
            atomically: true,
            encoding: .utf8
        )
        let threads = min(connections, ProcessInfo.processInfo.activeProcessorCount)
        let common = [
            "/usr/bin/pgbench", "-n", "-M", "prepared", "-c", "\(connections)", "-j", "\(threads)", "-f", script,
            "-h", "127.0.0.1", "-p", "\(cluster.port)", "-U", "collegedb",
        ]
        // A count of transactions, not -T (pgbench started by this process never ended with
        // -T); a short run sizes the long one to about `seconds`.
        let trial = try transactionsPerSecond(PostgresBenchmark.shell(common + ["-t", "300", database]))
        let wanted = trial * seconds / Double(connections)
        // A count past what pgbench can run (or not a number, from a strange trial) is capped.
        let perClient = wanted.isFinite ? max(300, Int(min(wanted, 1e9))) : 300
        let logPrefix = directory + "/pgbench-\(connections)"
        let output = try PostgresBenchmark.shell(
            common + ["-t", "\(perClient)", "-l", "--log-prefix", logPrefix, database]
        )
        let tps = try transactionsPerSecond(output)
        var nanoseconds: [UInt64] = []
        let logs = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasPrefix("pgbench-\(connections).") }
        for log in logs {
            let text = try String(contentsOfFile: directory + "/" + log, encoding: .utf8)
            // client_id transaction_no latency_us script_no epoch_s epoch_us
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ")
                // A latency too large to be one is not a transaction's: the line is skipped.
                if fields.count > 2, let microseconds = UInt64(fields[2]) {
                    let (latency, overflow) = microseconds.multipliedReportingOverflow(by: 1000)
                    if !overflow { nanoseconds.append(latency) }
                }
            }
            try FileManager.default.removeItem(atPath: directory + "/" + log)
        }
        guard !nanoseconds.isEmpty, tps > 0 else { throw BenchmarkFailure("pgbench logged no transaction") }
        return LatencyReport(
            label: "pgbench -M prepared (libpq) straight to PostgreSQL",
            connections: connections,
            nanoseconds: nanoseconds,
            seconds: Double(nanoseconds.count) / tps
        )
    }

    /// The `tps = …` pgbench printed.
    private static func transactionsPerSecond(_ output: String) throws -> Double {
        guard
            let line = output.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
            let value = line.dropFirst("tps = ".count).split(separator: " ").first.flatMap({ Double($0) })
        else { throw BenchmarkFailure("pgbench printed no tps: \(output)") }
        return value
    }
}
