import CollegeDB
import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#endif

/// `first` by a mapped key over the daemon's socket, beside two references measured in the same
/// run: direct in-process GRDB on the same shard files, and a minimal Unix-socket server that
/// answers each line with a fixed reply. Run it from a release build:
///
///     swift run -c release collegedb-benchmark [--seconds 3] [--keys 10000]
@main
struct CollegeDBBenchmark {
    static func main() async throws {
        let arguments = CommandLine.arguments
        if arguments.count == 3, arguments[1] == "fixed-reply-server" {
            try await FixedReplyServer.run(socketPath: arguments[2])
            return
        }
        let seconds = option("--seconds", in: arguments).flatMap(Double.init) ?? 3
        if arguments.count > 1, arguments[1] == "mapping" {
            let keyCount = option("--keys", in: arguments).flatMap(Int.init) ?? 1_000_000
            try await MappingScaleBenchmark.run(
                keyCount: keyCount,
                seconds: seconds,
                daemonBinary: binaryDirectory.appendingPathComponent("collegedbd")
            )
            return
        }
        let keyCount = option("--keys", in: arguments).flatMap(Int.init) ?? 10_000
        try await run(seconds: seconds, keyCount: keyCount)
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

        let daemonSocket = directory + "/d.sock"
        let daemon = try startProcess(
            binaryDirectory.appendingPathComponent("collegedbd"),
            ["--data-dir", directory + "/data", "--socket", daemonSocket, "--log-level", "warning"],
            socket: daemonSocket
        )
        defer { stopProcess(daemon) }
        let shardOfKey = try populate(socket: daemonSocket, keyCount: keyCount)

        let fixedSocket = directory + "/fixed.sock"
        let fixed = try startProcess(
            binaryDirectory.appendingPathComponent("collegedb-benchmark"),
            ["fixed-reply-server", fixedSocket],
            socket: fixedSocket
        )
        defer { stopProcess(fixed) }

        let requests = (0..<keyCount).map { index in
            Array(
                (#"{"jsonrpc":"2.0","id":1,"method":"first","params":["user:\#(index)","SELECT id, name, email FROM users WHERE id = ?",[\#(index)]]}"#
                    + "\n").utf8
            )
        }
        let pools = try Dictionary(
            uniqueKeysWithValues: Set(shardOfKey).map { shard in
                (shard, try DatabasePool(path: "\(directory)/data/shards/\(shard).sqlite"))
            }
        )

        let engine = try await CollegeDB.open(CollegeDBConfiguration(dataDirectory: directory + "/data"))
        let statements = (0..<keyCount).map {
            SQLStatement(sql: "SELECT id, name, email FROM users WHERE id = ?", bindings: [.integer(Int64($0))])
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
                    "fixed-reply Unix-socket server (NIO)",
                    connections: connections,
                    seconds: seconds
                ) { _ in
                    let client = try LineClient(path: fixedSocket)
                    return { iteration in try client.roundTrip(requests[iteration % keyCount]) }
                }
            )
            reports.append(
                try ClosedLoop.measure("direct in-process GRDB, same files", connections: connections, seconds: seconds)
                { _ in
                    { iteration in
                        let key = iteration % keyCount
                        let row = try pools[shardOfKey[key]]!.read { db in
                            try Row.fetchOne(
                                db,
                                sql: "SELECT id, name, email FROM users WHERE id = ?",
                                arguments: [key]
                            )
                        }
                        guard row != nil else { throw BenchmarkFailure("row \(key) missing") }
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
                        guard
                            try engine.executeMapped(key: "user:\(key)", statements[key], rowLimit: 1)?.rows.count == 1
                        else {
                            throw BenchmarkFailure("row \(key) missing")
                        }
                    }
                }
            )
        }
        printReport(reports, keyCount: keyCount, seconds: seconds)
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
        for _ in 0..<500 {
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
            "`first` by a mapped key (\(keyCount) keys over 3 shards), closed loop, \(seconds) s per row, \(ProcessInfo.processInfo.activeProcessorCount) cores\n"
        )
        print("| what | connections | p50 µs | p99 µs | requests/s |")
        print("|---|---|---|---|---|")
        for report in reports { print(report.row) }
        func find(_ prefix: String, _ connections: Int) -> LatencyReport {
            reports.first { $0.label.hasPrefix(prefix) && $0.connections == connections }!
        }
        let daemon1 = find("collegedbd", 1)
        let daemon16 = find("collegedbd", 16)
        let fixed1 = find("fixed-reply", 1)
        let fixed16 = find("fixed-reply", 16)
        let direct1 = find("direct", 1)
        let direct16 = find("direct", 16)
        let engine1 = find("collegedb engine", 1)
        print("")
        print(
            String(
                format: "- p50 at 1 connection: collegedbd / fixed-reply server = %.2fx (aim <= 1.5x)",
                daemon1.p50 / fixed1.p50
            )
        )
        print(
            String(
                format: "- throughput at 16 connections: collegedbd / fixed-reply server = %.2f (aim >= 0.5)",
                daemon16.throughput / fixed16.throughput
            )
        )
        print(String(format: "- p50 at 1 connection: collegedbd / direct GRDB = %.1fx", daemon1.p50 / direct1.p50))
        print(
            String(
                format: "- throughput at 16: collegedbd / direct GRDB = %.2f",
                daemon16.throughput / direct16.throughput
            )
        )
        print(
            String(
                format:
                    "- p50 at 1: what the socket path adds to the in-process engine = %.1f µs; the fixed-reply server's whole round trip = %.1f µs",
                daemon1.p50 - engine1.p50,
                fixed1.p50
            )
        )
    }
}
