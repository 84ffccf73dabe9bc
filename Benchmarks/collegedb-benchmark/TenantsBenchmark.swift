import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One small database per tenant: `--shards` SQLite files (default 100,000) in a shard
/// directory, each a copy of one tenant's database (a `kv` table with one row). Measures the
/// daemon's start (to its first answer), its memory and descriptors idle, a cold tenant's first
/// read one tenant after another, then reads and writes spread over random tenants at 1 and 16
/// connections with the opens and evictions they caused, memory and descriptors under load;
/// beside raw libsqlite3 opening, reading and closing the same files (the floor of a cold read)
/// in the same run.
///
///     collegedb-benchmark tenants [--shards 100000] [--max-open 256] [--seconds 3]
enum TenantsBenchmark {
    static func run(shards: Int, maxOpen: Int, seconds: Double) async throws {
        let directory = "/tmp/cdb-tenants-\(UUID().uuidString.prefix(8))"
        let tenants = directory + "/tenants"
        try FileManager.default.createDirectory(atPath: tenants, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let template = directory + "/template.sqlite"
        try SQLiteScript.run(
            path: template,
            """
            PRAGMA journal_mode = WAL;
            CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL);
            INSERT INTO kv VALUES ('profile', 'a tenant of the benchmark');
            """
        )
        let templateBytes = try Data(contentsOf: URL(fileURLWithPath: template))
        let names = (0..<shards).map { String(format: "t%06d", $0) }
        for name in names {
            guard FileManager.default.createFile(atPath: "\(tenants)/\(name).sqlite", contents: templateBytes) else {
                throw BenchmarkFailure("cannot write \(tenants)/\(name).sqlite")
            }
        }
        let busy = try BusyCores()
        defer { withExtendedLifetime(busy) {} }

        let socket = directory + "/d.sock"
        let started = DispatchTime.now().uptimeNanoseconds
        let daemon = try CollegeDBBenchmark.startProcess(
            CollegeDBBenchmark.binaryDirectory.appendingPathComponent("collegedbd"),
            [
                "--data-dir", directory + "/data", "--socket", socket, "--shard-directory", tenants,
                "--max-open-shards", String(maxOpen), "--log-level", "warning",
            ],
            socket: socket
        )
        defer { CollegeDBBenchmark.stopProcess(daemon) }
        let probe = try LineClient(path: socket)
        let firstAnswer = try probe.roundTrip(Array(#"{"jsonrpc":"2.0","id":1,"method":"health"}"#.utf8) + [10])
        let startSeconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        guard firstAnswer.count > 20 else { throw BenchmarkFailure("no answer to health") }
        let idle = ProcessUse(pid: daemon.processIdentifier)

        let read: @Sendable (String) -> [UInt8] = { tenant in
            Array(
                (#"{"jsonrpc":"2.0","id":1,"method":"firstShard","params":["\#(tenant)","SELECT v FROM kv WHERE k = ?",["profile"]]}"#
                    + "\n").utf8
            )
        }
        let write: @Sendable (String, Int) -> [UInt8] = { tenant, value in
            Array(
                (#"{"jsonrpc":"2.0","id":1,"method":"runShard","params":["\#(tenant)","INSERT OR REPLACE INTO kv VALUES (?, ?)",["last",\#(value)]]}"#
                    + "\n").utf8
            )
        }

        // Cold tenants, one after another: each read opens a file never opened before.
        let coldCount = min(shards / 2, 2000)
        var coldReads: [UInt64] = []
        for index in 0..<coldCount {
            let before = DispatchTime.now().uptimeNanoseconds
            let answer = try probe.roundTrip(read(names[index]))
            coldReads.append(DispatchTime.now().uptimeNanoseconds - before)
            guard answer.count > 40 else {
                throw BenchmarkFailure("cold read failed: \(String(decoding: answer, as: UTF8.self))")
            }
        }
        let cold = LatencyReport(
            label: "collegedbd cold tenant, first read",
            connections: 1,
            nanoseconds: coldReads,
            seconds: 1
        )
        var rawCold: [UInt64] = []
        for index in coldCount..<(2 * coldCount) {
            let before = DispatchTime.now().uptimeNanoseconds
            let raw = try RawSQLite(
                path: "\(tenants)/\(names[index]).sqlite",
                sql: "SELECT v FROM kv WHERE k = 'profile' AND ?1 = ?1"
            )
            guard try raw.run(1) == 1 else { throw BenchmarkFailure("raw cold read found no row") }
            rawCold.append(DispatchTime.now().uptimeNanoseconds - before)
        }
        let rawColdReport = LatencyReport(
            label: "raw libsqlite3: open, read, close a tenant's file",
            connections: 1,
            nanoseconds: rawCold,
            seconds: 1
        )

        var reports: [LatencyReport] = []
        var loads: [(connections: Int, opensPerSecond: Double, evictionsPerSecond: Double, use: ProcessUse)] = []
        for connections in [1, 16] {
            let before = try counters(probe)
            let report = try ClosedLoop.measure(
                "collegedbd reads and writes of random tenants",
                connections: connections,
                seconds: seconds
            ) { worker in
                let client = try LineClient(path: socket)
                var generator = SystemRandomNumberGenerator()
                let seed = UInt64.random(in: 0...UInt64.max, using: &generator)
                return { iteration in
                    let tenant = names[Int((seed &+ UInt64(iteration) &* 2_654_435_761) % UInt64(shards))]
                    let answer = try client.roundTrip(iteration % 2 == 0 ? read(tenant) : write(tenant, iteration))
                    guard answer.count > 30, !answer.contains(Array("\"error\"".utf8)) else {
                        throw BenchmarkFailure(String(decoding: answer, as: UTF8.self))
                    }
                }
            }
            let after = try counters(probe)
            loads.append(
                (
                    connections,
                    (after.opens - before.opens) / report.seconds,
                    (after.evictions - before.evictions) / report.seconds,
                    ProcessUse(pid: daemon.processIdentifier)
                )
            )
            reports.append(report)
        }

        // The floor of the same load without the daemon: every call opens the tenant's file,
        // reads or writes (durably, as the daemon's default), and closes it, as a cache of 256
        // over 100,000 random tenants nearly always does.
        var rawReports: [LatencyReport] = []
        for connections in [1, 16] {
            rawReports.append(
                try ClosedLoop.measure(
                    "raw libsqlite3: open, read or write, close a random tenant",
                    connections: connections,
                    seconds: seconds
                ) { _ in
                    var generator = SystemRandomNumberGenerator()
                    let seed = UInt64.random(in: 0...UInt64.max, using: &generator)
                    return { iteration in
                        let tenant = names[Int((seed &+ UInt64(iteration) &* 2_654_435_761) % UInt64(shards))]
                        let path = "\(tenants)/\(tenant).sqlite"
                        if iteration % 2 == 0 {
                            let raw = try RawSQLite(path: path, sql: "SELECT v FROM kv WHERE k = 'profile' AND ?1 = ?1")
                            guard try raw.run(1) == 1 else { throw BenchmarkFailure("raw read found no row") }
                        } else {
                            let raw = try RawSQLite(
                                path: path,
                                sql: "INSERT OR REPLACE INTO kv VALUES ('last', ?1)",
                                synchronous: "FULL"
                            )
                            try raw.run(Int64(iteration))
                        }
                    }
                }
            )
        }

        print(
            "One database per tenant: \(shards) SQLite shards in a shard directory, --max-open-shards \(maxOpen), closed loop, \(seconds) s per row, \(ProcessInfo.processInfo.activeProcessorCount) cores kept busy at idle priority\n"
        )
        print("| measure | value | aim |")
        print("|---|---|---|")
        print(String(format: "| start to first answer | %.2f s | < 1 s |", startSeconds))
        print("| idle RSS | \(idle.residentMegabytes) MB | < 1,600 MB |")
        print("| idle descriptors | \(idle.descriptors) | ≤ \(4 * maxOpen + 100) with no connection |")
        print(
            String(
                format:
                    "| cold tenant's first read, p50 / p99 | %.1f / %.1f µs (raw open+read+close %.1f / %.1f µs) | p50 < 1,000 µs |",
                cold.p50,
                cold.p99,
                rawColdReport.p50,
                rawColdReport.p99
            )
        )
        print("")
        print("| load | connections | p50 µs | p99 µs | requests/s | opens/s | evictions/s | RSS MB | descriptors |")
        print("|---|---|---|---|---|---|---|---|---|")
        for (report, load) in zip(reports, loads) {
            print(
                "| random tenants, half reads, half writes | \(report.connections) | \(String(format: "%.1f", report.p50)) | \(String(format: "%.1f", report.p99)) | \(Int(report.throughput)) | \(Int(load.opensPerSecond)) | \(Int(load.evictionsPerSecond)) | \(load.use.residentMegabytes) | \(load.use.descriptors) |"
            )
        }
        for report in rawReports {
            print(
                "| \(report.label) | \(report.connections) | \(String(format: "%.1f", report.p50)) | \(String(format: "%.1f", report.p99)) | \(Int(report.throughput)) | | | | |"
            )
        }
        print("")
        for (report, raw) in zip(reports, rawReports) {
            print(
                String(
                    format:
                        "- random tenants at %d connection(s): collegedbd / raw open-and-close requests/s = %.2f, p50 %.2fx",
                    report.connections,
                    report.throughput / raw.throughput,
                    report.p50 / raw.p50
                )
            )
        }
        print(
            String(
                format:
                    "- cold first read: collegedbd / raw libsqlite3 p50 = %.2fx; descriptors under load at 16 connections: %d (aim ≤ %d)",
                cold.p50 / rawColdReport.p50,
                loads.last?.use.descriptors ?? 0,
                4 * maxOpen + 16 + 100
            )
        )
    }

    /// Shards opened and closed to make room so far, from the daemon's metrics.
    static func counters(_ client: LineClient) throws -> (opens: Double, evictions: Double) {
        let line = try client.roundTrip(Array(#"{"jsonrpc":"2.0","id":1,"method":"metrics"}"#.utf8) + [10])
        let response = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
        guard let text = response?["result"] as? String else { throw BenchmarkFailure("no metrics") }
        func sample(_ name: String) -> Double {
            for row in text.split(separator: "\n") where row.hasPrefix(name + " ") {
                return Double(row.dropFirst(name.count + 1)) ?? 0
            }
            return 0
        }
        return (sample("collegedb_sqlite_shard_opens_total"), sample("collegedb_sqlite_shard_evictions_total"))
    }
}

/// A process's resident memory and open descriptors now, from /proc.
struct ProcessUse {
    let residentMegabytes: Int
    let descriptors: Int

    init(pid: Int32) {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let resident = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
        let kilobytes =
            resident.flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") }
            ?? 0
        residentMegabytes = kilobytes / 1024
        descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
    }
}
