import CollegeDB
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `first` by a mapped key over the daemon's socket, beside two references measured in the same
/// run: raw libsqlite3 on the same shard files, and a C Unix-socket server that answers each line
/// with a fixed reply. Other modes: `writes`, `mapping`, `rebalance`, `adoption`, `postgres`
/// (a PostgreSQL shard against pgbench, postgres-nio straight to the server and through pgbouncer),
/// `postgres-rebalance` (a rebalance between PostgreSQL shards against the same rows moved by
/// hand with postgres-nio), `tenants` (one small database per tenant, 100,000 by default, in a
/// shard directory), and `hot-path`
/// (reads, writes and the mapping store, one after the other: every row of the hot path's
/// table in one run). Run it from a release build:
///
///     swift run -c release collegedb-benchmark [MODE] [--seconds 3] [--keys N]
@main
struct CollegeDBBenchmark {
    static func main() async throws {
        let arguments = CommandLine.arguments
        let seconds = option("--seconds", in: arguments).flatMap(Double.init) ?? 3
        if arguments.count > 1, arguments[1] == "writes" {
            try await WriteBenchmark.run(seconds: seconds)
            return
        }
        if arguments.count > 1, arguments[1] == "rebalance" {
            let records = option("--records", in: arguments).flatMap(Int.init) ?? 200_000
            try await RebalanceBenchmark.run(records: records, seconds: seconds)
            return
        }
        if arguments.count > 1, arguments[1] == "backup" {
            try await BackupBenchmark.run(
                records: option("--records", in: arguments).flatMap(Int.init) ?? 300_000,
                runs: max(1, option("--runs", in: arguments).flatMap(Int.init) ?? 5),
                writers: max(0, option("--writers", in: arguments).flatMap(Int.init) ?? 4)
            )
            return
        }
        if arguments.count > 1, arguments[1] == "tenants" {
            try await TenantsBenchmark.run(
                shards: max(2, option("--shards", in: arguments).flatMap(Int.init) ?? 100_000),
                maxOpen: max(1, option("--max-open", in: arguments).flatMap(Int.init) ?? 256),
                seconds: seconds
            )
            return
        }
        if arguments.count > 1, arguments[1] == "adoption" {
            try await AdoptionBenchmark.run(keyCount: option("--keys", in: arguments).flatMap(Int.init) ?? 1_000_000)
            return
        }
        if arguments.count > 1, arguments[1] == "postgres" {
            try await PostgresBenchmark.run(
                seconds: seconds,
                keyCount: option("--keys", in: arguments).flatMap(Int.init) ?? 10_000
            )
            return
        }
        if arguments.count > 1, arguments[1] == "postgres-rebalance" {
            try await PostgresRebalanceBenchmark.run(
                records: option("--records", in: arguments).flatMap(Int.init) ?? 20_000
            )
            return
        }
        if arguments.count > 1, arguments[1] == "mapping" {
            try await runMappingStore(keyCount: option("--keys", in: arguments).flatMap(Int.init), seconds: seconds)
            return
        }
        if arguments.count > 1, arguments[1] == "hot-path" {
            try await run(seconds: seconds, keyCount: 10_000)
            try await WriteBenchmark.run(seconds: seconds)
            try await runMappingStore(
                keyCount: option("--mapping-keys", in: arguments).flatMap(Int.init),
                seconds: seconds
            )
            return
        }
        let keyCount = option("--keys", in: arguments).flatMap(Int.init) ?? 10_000
        try await run(seconds: seconds, keyCount: keyCount)
    }

    /// The mapping store with `keyCount` keys (default 1,000,000).
    static func runMappingStore(keyCount: Int?, seconds: Double) async throws {
        try await MappingScaleBenchmark.run(
            keyCount: keyCount ?? 1_000_000,
            seconds: seconds,
            daemonBinary: binaryDirectory.appendingPathComponent("collegedbd")
        )
    }

    static func option(_ name: String, in arguments: [String]) -> String? {
        arguments.firstIndex(of: name).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
    }

    static var binaryDirectory: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    }

    static func run(seconds: Double, keyCount: Int) async throws {
        let directory = "/tmp/cdb-bench-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let busy = try BusyCores()
        defer { withExtendedLifetime(busy) {} }

        let daemonSocket = directory + "/d.sock"
        let daemon = try startProcess(
            binaryDirectory.appendingPathComponent("collegedbd"),
            ["--data-dir", directory + "/data", "--socket", daemonSocket, "--log-level", "warning"],
            socket: daemonSocket
        )
        let shardOfKey = try populate(socket: daemonSocket, keyCount: keyCount)
        let echoSocket = directory + "/echo.sock"
        let echo = try CEchoServer.start(socket: echoSocket, in: directory)
        defer { stopProcess(echo) }

        let requests = (0..<keyCount).map { index in
            Array(
                (#"{"jsonrpc":"2.0","id":1,"method":"first","params":["user:\#(index)","SELECT id, name, email FROM users WHERE id = ?",[\#(index)]]}"#
                    + "\n").utf8
            )
        }
        var reports: [LatencyReport] = []
        for connections in [1, 16] {
            reports.append(
                try ClosedLoop.measure("collegedbd `first` over the socket", connections: connections, seconds: seconds)
                { _ in
                    let client = try LineClient(path: daemonSocket)
                    return { iteration in
                        let response = try client.roundTrip(requests[iteration % keyCount])
                        guard response.count > 60 else { throw BenchmarkFailure("short response") }
                    }
                }
            )
            reports.append(
                try ClosedLoop.measure(
                    "C echo server (fixed reply per line)",
                    connections: connections,
                    seconds: seconds
                ) { _ in
                    let client = try LineClient(path: echoSocket)
                    return { iteration in try client.roundTrip(requests[iteration % keyCount]) }
                }
            )
        }
        // The daemon holds the data directory's lock: the in-process measurements come after it.
        stopProcess(daemon)
        let select = "SELECT id, name, email FROM users WHERE id = ?"
        let engine = try await CollegeDB.open(CollegeDBConfiguration(dataDirectory: directory + "/data"))
        let statements = (0..<keyCount).map { SQLStatement(sql: select, bindings: [.integer(Int64($0))]) }
        for connections in [1, 16] {
            reports.append(
                try ClosedLoop.measure("raw libsqlite3, same files", connections: connections, seconds: seconds) { _ in
                    let connectionsByShard = try Dictionary(
                        uniqueKeysWithValues: Set(shardOfKey).map { shard in
                            (shard, try RawSQLite(path: "\(directory)/data/shards/\(shard).sqlite", sql: select))
                        }
                    )
                    return { iteration in
                        let key = iteration % keyCount
                        guard try connectionsByShard[shardOfKey[key]]!.run(Int64(key)) == 1 else {
                            throw BenchmarkFailure("row \(key) missing")
                        }
                    }
                }
            )
            reports.append(
                try ClosedLoop.measure(
                    "collegedb engine in-process (mapping + shard)",
                    connections: connections,
                    seconds: seconds
                ) { _ in
                    { iteration in
                        let key = iteration % keyCount
                        // As the daemon does: the quick path on this thread, else the full one.
                        let result =
                            try engine.executeMapped(key: "user:\(key)", statements[key], rowLimit: 1)
                            ?? waitFor { try await engine.first(key: "user:\(key)", statements[key]) }
                        guard result.rows.count == 1 else { throw BenchmarkFailure("row \(key) missing") }
                    }
                }
            )
        }
        try await engine.close()
        printReport(reports, keyCount: keyCount, seconds: seconds)
    }

    /// Waits on this (non-cooperative) thread for `body`.
    static func waitFor<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<T, any Error>?>(nil)
        Task {
            do {
                let value = try await body()
                outcome.withLock { $0 = .success(value) }
            } catch {
                outcome.withLock { $0 = .failure(error) }
            }
            done.signal()
        }
        done.wait()
        return try outcome.withLock { $0! }.get()
    }

    /// Creates the table and one mapped row per key through the daemon; returns each key's shard.
    static func populate(socket: String, keyCount: Int) throws -> [String] {
        let client = try LineClient(path: socket)
        try client.roundTrip(
            Array(
                (#"{"jsonrpc":"2.0","id":0,"method":"createSchema","params":["CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT)"]}"#
                    + "\n").utf8
            )
        )
        return try (0..<keyCount).map { index in
            let line = try client.roundTrip(
                Array(
                    (#"{"jsonrpc":"2.0","id":1,"method":"run","params":["user:\#(index)","INSERT INTO users VALUES (?, ?, ?)",[\#(index),"user \#(index)","user\#(index)@example.com"]]}"#
                        + "\n").utf8
                )
            )
            let response = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
            guard let shard = ((response?["result"] as? [String: Any])?["meta"] as? [String: Any])?["shard"] as? String
            else {
                throw BenchmarkFailure("populate failed: \(String(decoding: line, as: UTF8.self))")
            }
            return shard
        }
    }

    static func startProcess(_ binary: URL, _ arguments: [String], socket: String) throws -> Process {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        try process.run()
        for _ in 0..<6000 {  // two minutes: a start may adopt a database first
            if (try? LineClient(path: socket)) != nil { return process }
            usleep(20_000)
        }
        throw BenchmarkFailure("\(binary.lastPathComponent) did not listen on \(socket)")
    }

    static func stopProcess(_ process: Process) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }

    static func printReport(_ reports: [LatencyReport], keyCount: Int, seconds: Double) {
        print(
            "`first` by a mapped key (\(keyCount) keys over 3 shards), closed loop, \(seconds) s per row, \(ProcessInfo.processInfo.activeProcessorCount) cores kept busy at idle priority\n"
        )
        print("| what | connections | p50 µs | p99 µs | requests/s |")
        print("|---|---|---|---|---|")
        for report in reports { print(report.row) }
        func find(_ prefix: String, _ connections: Int) -> LatencyReport {
            reports.first { $0.label.hasPrefix(prefix) && $0.connections == connections }!
        }
        print("")
        print(
            String(
                format: "- p50 at 1 connection: collegedbd / C echo = %.2fx (aim <= 2x)",
                find("collegedbd", 1).p50 / find("C echo", 1).p50
            )
        )
        print(
            String(
                format: "- requests/s at 16 connections: collegedbd / C echo = %.2f (aim >= 0.5)",
                find("collegedbd", 16).throughput / find("C echo", 16).throughput
            )
        )
        print(
            String(
                format: "- in process at 1 connection: engine / raw libsqlite3 p50 = %.1fx; at 16, requests/s = %.2f",
                find("collegedb engine", 1).p50 / find("raw", 1).p50,
                find("collegedb engine", 16).throughput / find("raw", 16).throughput
            )
        )
    }
}
