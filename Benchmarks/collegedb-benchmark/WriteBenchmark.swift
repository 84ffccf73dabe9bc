import Foundation

/// `run` INSERT over the socket at 16 connections on 3 shards, beside raw libsqlite3's
/// per-commit rate on the same files (one thread per file, each INSERT its own transaction) in
/// the same synchronous mode: with `--durability normal` (synchronous = NORMAL) and with
/// `--durability full` (synchronous = FULL, each commit waits for the disk).
///
///     collegedb-benchmark writes [--seconds 3]
enum WriteBenchmark {
    static let keyCount = 1000

    static func run(seconds: Double) async throws {
        let busy = try BusyCores()
        defer { withExtendedLifetime(busy) {} }
        var reports: [(LatencyReport, LatencyReport)] = []
        var groupSizes: [Double] = []
        for durability in ["normal", "full"] {
            let directory = "/tmp/cdb-bench-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let socket = directory + "/d.sock"
            let daemon = try CollegeDBBenchmark.startProcess(
                CollegeDBBenchmark.binaryDirectory.appendingPathComponent("collegedbd"),
                [
                    "--data-dir", directory + "/data", "--socket", socket, "--log-level", "warning",
                    "--durability", durability,
                ],
                socket: socket
            )
            let setup = try LineClient(path: socket)
            try setup.roundTrip(
                Array(
                    (#"{"jsonrpc":"2.0","id":0,"method":"createSchema","params":["CREATE TABLE events (id INTEGER PRIMARY KEY, key TEXT, at INTEGER)"]}"#
                        + "\n").utf8
                )
            )
            for key in 0..<keyCount {
                try setup.roundTrip(insert(key: key, at: 0))
            }
            let daemonReport = try ClosedLoop.measure(
                "collegedbd `run` INSERT, --durability \(durability)",
                connections: 16,
                seconds: seconds
            ) { _ in
                let client = try LineClient(path: socket)
                return { iteration in
                    let response = try client.roundTrip(insert(key: iteration % keyCount, at: iteration))
                    guard response.starts(with: Array(#"{"jsonrpc":"2.0","id":1,"result""#.utf8)) else {
                        throw BenchmarkFailure("write failed: \(String(decoding: response, as: UTF8.self))")
                    }
                }
            }
            let metadata = try setup.roundTrip(
                Array(#"{"jsonrpc":"2.0","id":9,"method":"getShardMetadata"}"#.utf8 + [10])
            )
            let shards =
                ((try JSONSerialization.jsonObject(with: Data(metadata)) as? [String: Any])?["result"]
                    as? [[String: Any]])
                ?? []
            let commits = shards.reduce(0) { $0 + ($1["commits"] as? Int ?? 0) }
            let writes = shards.reduce(0) { $0 + ($1["writesCommitted"] as? Int ?? 0) }
            groupSizes.append(Double(writes) / Double(max(commits, 1)))
            CollegeDBBenchmark.stopProcess(daemon)
            let files = try FileManager.default.contentsOfDirectory(atPath: directory + "/data/shards")
                .filter { $0.hasSuffix(".sqlite") }.sorted()
            let synchronous = durability == "full" ? "FULL" : "NORMAL"
            let rawReport = try ClosedLoop.measure(
                "raw libsqlite3 INSERT, one thread per file, synchronous=\(synchronous)",
                connections: files.count,
                seconds: seconds
            ) { index in
                let raw = try RawSQLite(
                    path: "\(directory)/data/shards/\(files[index])",
                    sql: "INSERT INTO events (key, at) VALUES ('raw', ?)",
                    synchronous: synchronous
                )
                return { iteration in try raw.run(Int64(iteration)) }
            }
            reports.append((daemonReport, rawReport))
        }
        print("`run` INSERT on mapped keys over 3 shards, closed loop, \(seconds) s per row, cores kept busy\n")
        print("| what | connections | p50 µs | p99 µs | requests/s |")
        print("|---|---|---|---|---|")
        for (daemon, raw) in reports {
            print(daemon.row)
            print(raw.row)
        }
        print("")
        let (normalDaemon, normalRaw) = reports[0]
        let (fullDaemon, fullRaw) = reports[1]
        print(
            String(
                format:
                    "- durability normal: collegedbd / raw per-commit rate = %.2f (aim >= 0.5); mean group %.1f writes",
                normalDaemon.throughput / normalRaw.throughput,
                groupSizes[0]
            )
        )
        print(
            String(
                format:
                    "- durability full: collegedbd / raw per-commit rate = %.2f (aim >= 2, from group commit); mean group %.1f writes",
                fullDaemon.throughput / fullRaw.throughput,
                groupSizes[1]
            )
        )
    }

    static func insert(key: Int, at: Int) -> [UInt8] {
        Array(
            (#"{"jsonrpc":"2.0","id":1,"method":"run","params":["user:\#(key)","INSERT INTO events (key, at) VALUES (?, ?)",["user:\#(key)",\#(at)]]}"#
                + "\n").utf8
        )
    }
}
